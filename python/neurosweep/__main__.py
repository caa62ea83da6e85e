"""`python -m neurosweep COMMAND`: commands of the Python package.

    python -m neurosweep search SPEC -o RESULT.h5 [--resume] [--force]   # docs/SEARCH.md
    python -m neurosweep pointnet CONFIG -o SPEC.json [--axis JSON] [--fixed NAME=VALUE]
                                          # a BMTK PointNet network as a spec (docs/NETWORKS.md)
    python -m neurosweep pointnet-spikes DB INSTANCE MAPPING -o SPIKES.h5
                                          # its spikes with BMTK's node ids (output/spikes.h5 layout)
"""
import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"search": "neurosweep.search", "pointnet": "neurosweep.pointnet",
                "pointnet-spikes": "neurosweep.pointnet:spikes_main"}
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        if argv and argv[0] not in ("-h", "--help"):
            print(f"python -m neurosweep: unknown command {argv[0]!r}; commands: {', '.join(commands)}", file=sys.stderr)
        print(__doc__.strip(), file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    import importlib
    module, _, func = commands[argv[0]].partition(":")
    return getattr(importlib.import_module(module), func or "main")(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
