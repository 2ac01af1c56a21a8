"""The content editors' API: drafts, validation, publishing, packages, media, item analysis."""
