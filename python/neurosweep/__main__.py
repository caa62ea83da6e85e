"""`python -m neurosweep COMMAND`: commands of the Python package.

    python -m neurosweep search SPEC -o RESULT.h5 [--resume] [--force]   # docs/SEARCH.md
    python -m neurosweep pointnet CONFIG -o SPEC.json [--axis JSON] [--fixed NAME=VALUE]
                                          # a BMTK PointNet network as a spec (docs/NETWORKS.md)
"""
import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"search": "neurosweep.search", "pointnet": "neurosweep.pointnet"}
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        if argv and argv[0] not in ("-h", "--help"):
            print(f"python -m neurosweep: unknown command {argv[0]!r}; commands: {', '.join(commands)}", file=sys.stderr)
        print(__doc__.strip(), file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    import importlib
    return importlib.import_module(commands[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
