"""`mpi-linker`: the linker's HTTP server (also `python -m mpi_linker.serve`)."""

from mpi_store.serving import entry_point

main = entry_point(
    "mpi_linker.app:create_app",
    settings="mpi_linker.settings:Settings",
    port=8010,
    summary="Serve the linker (settings from MPI_*).",
)

if __name__ == "__main__":
    main()
