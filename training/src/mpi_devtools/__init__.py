"""Developer tools: the embedded stack (`mpi up`) and its drills (`mpi drill`).

They start the services as processes and talk to them over HTTP, as a user would; no service
imports them, and no image runs them.
"""
