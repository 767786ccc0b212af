"""Human review of a sealed report (GDPR Art. 22(3), AI Act Art. 14): the review form in the sealed
PDF, reviews signed as incremental revisions, their JSON records, the person's submissions, and the
state of each report (awaiting, reviewed, overturned, escalated)."""
