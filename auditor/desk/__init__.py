"""The officer's desk: the review work over sealed reports, above `verify` so that it rests only on
what verifies. `record` signs a decision into a report (what `auditor review` does), `reviews`
reads a report's verified reviews in the order they were signed, `queue` ranks a batch's reports
by where they stand, and `index` rebuilds a batch's index from its ledger and verified reviews.
The web desk (`auditor desk`) is built on them: `app` (routes), `guard` (token, cookie, loopback,
Host, CSP), `session` (tokens and the reviewer's identity, in memory), `views` (what pages show),
`files` (manifest-listed files and the sealed revision) and `decision` (a form to `record`)."""
