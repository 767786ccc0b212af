"""The notice to the person concerned (`auditor notice`, GDPR Art. 12-15, 21, 22(3), 77): what
happened, what the system said and what it means for them, who checks it, why in plain words, and
their rights with whom to contact; sealed and bound to its report (`auditor.verify.notice`).

Modules: `facts` (what a verified report lets the notice say), `text` (the sentences, from the
catalogs), `document` (HTML, PDF/A, seal), `readability` (the plain-language measure).
"""
