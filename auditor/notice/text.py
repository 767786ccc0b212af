"""The words of a notice to the person concerned: short sentences, second person, no jargon.

Every sentence is a whole msgid of the catalog (`auditor.i18n`). The operator's own text (names,
addresses, contacts, the class name) and identifiers are set apart as values (`<span class="value">`),
so the readability measure (`auditor.notice.readability`) skips them and the layout can show them.
A contact the profile leaves out is said plainly: whom to ask instead, never a blank.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from auditor.evidence import EvidenceRecord
from auditor.i18n import _, clock, date, datetime
from auditor.messages import N_
from auditor.notice.facts import NoticeFacts
from auditor.review.state import ReviewState

AREAS = {  # where in the picture the system looked most: completes "In that moment, it looked most at …"
    # Translators: this and the eight phrases after it complete "In that moment, it looked most at %(area)s."
    "upper-left": N_("the top left of the picture"),
    "upper-centre": N_("the top middle of the picture"),
    "upper-right": N_("the top right of the picture"),
    "middle-left": N_("the left side of the picture"),
    "centre": N_("the middle of the picture"),
    "middle-right": N_("the right side of the picture"),
    "lower-left": N_("the bottom left of the picture"),
    "lower-centre": N_("the bottom middle of the picture"),
    "lower-right": N_("the bottom right of the picture"),
}


@dataclass(frozen=True)
class Part:
    """One section of the notice: a heading and its paragraphs (escaped HTML)."""

    heading: str
    paragraphs: tuple[Markup, ...]
    key: int | None = None  # the paragraph the reader must not miss, set apart


def value(text: str) -> Markup:
    """The operator's text or an identifier, shown as it is and left out of the readability measure."""
    return Markup('<span class="value">{}</span>').format(text)


def say(message: str, **values: object) -> Markup:
    """`message` (already translated) with its named placeholders filled, all escaped."""
    return Markup(escape(message)) % values if values else Markup(escape(message))


def notice_parts(facts: NoticeFacts) -> list[Part]:
    """The sections of the notice, in the active language."""
    record = facts.record
    return [
        Part(_("What happened"), _what_happened(record)),
        Part(_("What the system said"), _what_it_said(record), key=1 if record.decision.flagged else None),
        Part(_("Who checks it"), _who_checks(facts.review)),
        Part(_("Why the system said this"), _why(record)),
        Part(_("Your rights"), ()),
        *_rights(record),
    ]


def sender(record: EvidenceRecord) -> Markup | None:
    """Who sends the notice: the controller, when the profile names it."""
    controller = record.deployment.controller
    # Translators: the first line of the notice, naming the organisation that sends it.
    return say(_("From: %(controller)s"), controller=value(controller)) if controller else None


def _what_happened(record: EvidenceRecord) -> tuple[Markup, ...]:
    source = record.input.source_id or record.deployment.source_id
    camera = (
        say(_("A camera recorded a video in which you may appear. The camera is %(source)s."), source=value(source))
        if source else say(_("A camera recorded a video in which you may appear. The video file is %(file)s."),
                           file=value(record.input.file_name))
    )
    return (
        camera,
        # Translators: %(start)s and %(end)s are positions in the recording, in minutes:seconds from its start.
        say(_("This notice is about the part from %(start)s to %(end)s, counted from the start of the video."),
            start=clock(record.input.start_seconds), end=clock(record.input.end_seconds)),
        say(_("A computer system looked at this part on %(when)s."), when=datetime(record.report.created_at)),
    )


def _what_it_said(record: EvidenceRecord) -> tuple[Markup, ...]:
    decision = record.decision
    if not decision.flagged:
        return (
            say(_("The system did not raise an alert. It saw nothing it was set to look for.")),
            say(_("It said the scene looked like %(label)s."), label=value(decision.predicted_class)),
        )
    return (
        # Translators: %(label)s is the detector's own name for what it saw (e.g. "fight"), shown as it is.
        say(_("The system raised an alert. It said the scene looked like %(label)s."), label=value(decision.predicted_class)),
        say(_("This is a guess made by a computer. It is not a finding about you, and it does not prove that "
              "anything happened.")),
        say(_("Nothing is decided about you on the basis of this guess alone.")),
    )


def _who_checks(state: ReviewState) -> tuple[Markup, ...]:
    last = state.reviews[-1].signed_at if state.reviews else None
    if state.status == "no alert":
        return (say(_("No alert was raised, so no person needs to check it. You can still ask for a check.")),)
    if state.status in ("reviewed", "overturned") and last is not None:
        agreed = (_("They agreed with the system.") if state.status == "reviewed"
                  else _("They did not agree with the system. The alert was set aside."))
        return (say(_("A person checked the system's guess on %(date)s."), date=date(last)), say(agreed))
    return (_pending(state), *_due(state))


def _pending(state: ReviewState) -> Markup:
    if state.status == "awaiting second review":
        return say(_("A first person has checked the system's guess. A second person must check it too."))
    if state.status == "escalated":
        return say(_("A person looked at the system's guess and passed it on to someone more senior to decide."))
    if state.status == "disagreement":
        return say(_("Two people checked the system's guess and did not agree. Someone more senior will decide."))
    return say(_("A person will check the system's guess. The computer does not decide on its own."))


def _due(state: ReviewState) -> tuple[Markup, ...]:
    if state.due is None:
        return (say(_("No time limit was set for this check. You can ask the organisation that runs the camera when it will happen.")),)
    if state.status == "overdue":
        return (say(_("The check was due by %(due)s. It is late. You can ask the organisation that runs the camera why."), due=datetime(state.due)),)
    return (say(_("The check is due by %(due)s."), due=datetime(state.due)),)


def _why(record: EvidenceRecord) -> tuple[Markup, ...]:
    explanations = record.explanations
    sentences = []
    if explanations.key_frames and explanations.frames:
        frame = explanations.frames[explanations.key_frames[0]]
        sentences.append(say(_("The system paid most attention to the moment %(time)s into the video."),
                             time=clock(frame.timestamp)))
        region = next(iter(frame.maps.values())).region if frame.maps else "none"
        sentences.append(
            say(_("In that moment, it looked most at %(area)s."), area=_(AREAS[region])) if region in AREAS
            else say(_("In that moment, it did not look at one area more than the rest."))
        )
    sentences += [
        # Translators: the notice shows no heatmap; "where the system looked" is the area it relied on most.
        say(_("This shows where the system looked. It does not show that the system was right.")),
        say(_("This notice shows no picture. Other people may be in the video, and the system cannot tell which "
              "person you are. We protect them by showing none. You can ask to see the video of you (see your "
              "right of access below).")),
    ]
    return tuple(sentences)


def _rights(record: EvidenceRecord) -> list[Part]:
    profile = record.deployment
    office = profile.dpo_contact or profile.controller
    # Translators: %(contact)s is a contact as the operator wrote it (a name, an e-mail address, a phone number).
    ask = say(_("Write to: %(contact)s."), contact=value(office)) if office else _no_contact()
    redress = profile.redress
    return [
        Part(_("See your data (Article 15 GDPR)"), (
            say(_("You can ask for a copy of the data about you, and of this report.")), ask)),
        Part(_("Say no to this use of your data (Article 21 GDPR)"), (
            say(_("You can object to this use of your data, for reasons that come from your own situation.")), ask)),
        Part(_("Have a person decide, and give your view (Article 22 GDPR)"), (
            say(_("You can ask that a person decides, not the computer. You can tell them your side of the story, "
                  "and you can contest the decision.")),
            *_redress_lines(redress.contact, redress.channel, redress.time_limit, office))),
        Part(_("Complain (Article 77 GDPR)"), _complaint(profile.supervisory_authority.name,
                                                         profile.supervisory_authority.contact)),
        Part(_("Who is responsible"), _responsible(profile.controller, profile.dpo_contact)),
    ]


def _no_contact() -> Markup:
    return say(_("This notice has no contact for this. Ask the organisation that runs the camera."))


def _redress_lines(contact: str | None, channel: str | None, limit: str | None, office: str | None) -> tuple[Markup, ...]:
    lines = [say(_("Contact: %(contact)s."), contact=value(contact)) if contact
             else say(_("Write to: %(contact)s."), contact=value(office)) if office else _no_contact()]
    if channel:
        lines.append(say(_("How: %(channel)s."), channel=value(channel)))
    lines.append(say(_("Time limit: %(limit)s."), limit=value(limit)) if limit
                 else say(_("No time limit was given. Ask the organisation that runs the camera.")))
    return tuple(lines)


def _complaint(name: str | None, contact: str | None) -> tuple[Markup, ...]:
    first = say(_("You can complain to a data protection authority if you think your data is used against the law."))
    if name:
        where = value(f"{name}, {contact}" if contact else name)
        return first, say(_("The authority in charge is %(authority)s."), authority=where)
    return first, say(_("Ask the organisation that runs the camera which authority is in charge. You can also go "
                        "to the authority where you live or work."))


def _responsible(controller: str | None, dpo: str | None) -> tuple[Markup, ...]:
    lines = [say(_("The organisation responsible for your data (the controller) is %(controller)s."),
                 controller=value(controller)) if controller
             else say(_("The organisation responsible for your data (the controller) is not named here. Ask the organisation "
                   "that runs the camera."))]
    if dpo:
        lines.append(say(_("The data protection officer can be reached at %(dpo)s."), dpo=value(dpo)))
    return tuple(lines)
