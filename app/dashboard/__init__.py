"""The manager's dashboard: server-rendered pages at /dashboard/ over the JSON API."""
