"""Who did what to what, and when: exports, erasures and other acts an admin must be able to
look back on."""
