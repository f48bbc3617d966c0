import multiprocessing

from fundus_viewer.cli.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the frozen app re-enters here for DataLoader workers
    raise SystemExit(main())
