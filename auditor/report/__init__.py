"""Rendering: the record in words and pictures, HTML and PDF/A, in the reader's language."""
