"""Data stewardship on links: the review queue, manual decisions, link history."""
