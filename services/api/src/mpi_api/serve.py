"""`mpi-api`: the api's HTTP server (also `python -m mpi_api.serve`)."""

from mpi_store.serving import entry_point

main = entry_point(
    "mpi_api.app:create_app",
    settings="mpi_api.settings:Settings",
    port=8000,
    summary="Serve the MPI api (settings from MPI_*).",
)

if __name__ == "__main__":
    main()
