"""Signing: the PAdES seal of the PDF, detached CMS signatures, the manifest, long-term validation."""
