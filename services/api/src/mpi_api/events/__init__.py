"""The change feed: `GET /events`."""
