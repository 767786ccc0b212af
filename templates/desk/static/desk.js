// The desk's few lines of script: j/k and Enter on the queue, the clip's plain/heatmap toggle
// (keeping the time), key-frame markers, and the minutes counted from opening the report.
"use strict";

function queueKeys() {
  const rows = Array.from(document.querySelectorAll("#queue tr.row"));
  if (!rows.length) return;
  let at = 0;
  const select = (i) => {
    rows[at].classList.remove("selected");
    rows[at].removeAttribute("aria-selected");
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows[at].classList.add("selected");
    rows[at].setAttribute("aria-selected", "true");
    rows[at].scrollIntoView({block: "nearest"});
  };
  select(0);
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea, button") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") select(at + 1);
    else if (e.key === "k") select(at - 1);
    else if (e.key === "Enter") window.location.href = rows[at].dataset.href;
    else return;
    e.preventDefault();
  });
  rows.forEach((row, i) => row.addEventListener("click", (e) => { if (!e.target.closest("a")) select(i); }));
}

function clipPlayer() {
  const video = document.getElementById("clip");
  if (!video) return;
  const buttons = {plain: document.getElementById("show-plain"), heatmap: document.getElementById("show-heatmap")};
  const show = (which) => {
    const url = video.dataset[which];
    if (video.getAttribute("src") === url) return;
    const time = video.currentTime, playing = !video.paused;
    video.addEventListener("loadedmetadata", () => {
      video.currentTime = time;
      if (playing) video.play();
    }, {once: true});
    video.setAttribute("src", url);
    for (const [name, button] of Object.entries(buttons)) button.setAttribute("aria-pressed", String(name === which));
  };
  buttons.plain.addEventListener("click", () => show("plain"));
  buttons.heatmap.addEventListener("click", () => show("heatmap"));
  const band = document.querySelector("#timeline .window");
  band.style.left = band.dataset.from + "%";
  band.style.width = (band.dataset.to - band.dataset.from) + "%";
  const timeline = document.getElementById("timeline");
  let previous = -Infinity, low = false;
  document.querySelectorAll("#timeline .marker").forEach((marker) => {
    marker.style.left = marker.dataset.share + "%";
    const x = timeline.clientWidth * Number(marker.dataset.share) / 100;
    low = x - previous < 20 ? !low : false;  // marks closer than their width take turns on two rows
    marker.classList.toggle("low", low);
    previous = x;
    marker.addEventListener("click", () => { video.pause(); video.currentTime = Number(marker.dataset.seconds); });
  });
  const head = document.createElement("div");
  head.className = "playhead";
  timeline.appendChild(head);
  const duration = Number(timeline.dataset.duration);
  video.addEventListener("timeupdate", () => { head.style.left = (100 * video.currentTime / duration) + "%"; });
}

function minutesCounter() {
  const field = document.getElementById("minutes");
  if (!field) return;
  const opened = Date.now() - 60000 * Number(field.dataset.opened || 0);
  field.addEventListener("input", () => { field.dataset.edited = "yes"; });
  const update = () => {
    if (field.dataset.edited !== "yes") field.value = ((Date.now() - opened) / 60000).toFixed(1);
  };
  setInterval(update, 5000);
  document.getElementById("decision").addEventListener("submit", update);
}

document.addEventListener("DOMContentLoaded", () => { queueKeys(); clipPlayer(); minutesCounter(); });
