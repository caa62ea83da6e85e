#!/usr/bin/env python3
"""Registers, spills and stack of every CUDA kernel, checked against budgets (issue 19).

ptxas reports, per kernel and architecture, the registers a thread uses, the bytes it spills to
local memory and its stack frame (local memory for arrays it could not keep in registers). The
build writes that report (`nvcc -Xptxas -v`, CMake target `kernel_resources`) to a text file; this
script reads it, prints one table (kernel, registers, spill stores/loads, stack) and fails when a
kernel exceeds its budget in tests/kernel_budgets.json (rules tried in order, first match wins):

- float kernels: at most 128 registers per thread (at least 25% occupancy on sm_80/sm_90:
  65,536 registers per SM / (128 x 2,048 threads)), no spills, no stack frame; double kernels: at
  most 255 registers (a double takes two), no spills, no stack frame;
- named exceptions (a kernel pattern with its own limits and the reason), for kernels known to be
  over the default; their limits are today's values, so they can only get better.

  kernel_resources.py REPORT BUDGETS.json [--arch sm_90]

No GPU is needed: the numbers come from the compiler.
"""
import fnmatch
import json
import re
import subprocess
import sys


def demangle(names):
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True,
                             check=True).stdout.splitlines()
        if len(out) == len(names):
            return out
    except (OSError, subprocess.CalledProcessError):
        pass
    return names


def short(name):
    """'void ns::(anonymous namespace)::integrate_table<ns::StgModel, float>(...)' ->
    'integrate_table<StgModel, float>'."""
    name = re.sub(r"^void\s+", "", name).replace("(anonymous namespace)::", "")
    depth, end = 0, len(name)
    for j, c in enumerate(name):  # cut the argument list: the first '(' outside template brackets
        depth += (c == "<") - (c == ">")
        if c == "(" and depth == 0:
            end = j
            break
    name = name[:end].replace("ns::", "")
    return name


def parse(text, arch):
    kernels = {}
    cur = None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '([^']+)' for '(sm_\d+a?)'", line)
        if m:
            cur = m.group(1) if m.group(2) == arch else None
            if cur:
                kernels[cur] = {"registers": 0, "spill_bytes": 0, "stack_bytes": 0}
            continue
        if not cur:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            kernels[cur]["stack_bytes"] = int(m.group(1))
            kernels[cur]["spill_bytes"] = max(int(m.group(2)), int(m.group(3)))
            continue
        m = re.search(r"Used (\d+) registers", line)
        if m:
            kernels[cur]["registers"] = int(m.group(1))
    return kernels


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    arch = "sm_90"
    if "--arch" in argv:
        arch = argv[argv.index("--arch") + 1]
    text = open(argv[1], encoding="utf-8", errors="replace").read()
    budgets = json.load(open(argv[2]))
    kernels = parse(text, arch)
    if not kernels:
        print("kernel_resources: no kernel for %s in %s (was the report built?)" % (arch, argv[1]))
        return 1
    mangled = sorted(kernels)
    names = dict(zip(mangled, (short(n) for n in demangle(mangled))))
    failures = []
    print("%-58s %5s %7s %7s  %s" % ("kernel (" + arch + ")", "regs", "spill B", "stack B", "budget"))
    for k in sorted(mangled, key=lambda k: names[k]):
        r = kernels[k]
        rule = next((r for r in budgets["rules"] if fnmatch.fnmatchcase(names[k], r["pattern"])), None)
        if rule is None:
            print("kernel_resources: no budget rule matches %s" % names[k])
            failures.append(names[k])
            continue
        lim, why = rule, rule.get("reason", rule["pattern"])
        over = [x for x in ("registers", "spill_bytes", "stack_bytes") if r[x] > lim[x]]
        flag = "OVER " + ",".join(over) if over else "ok"
        print("%-58s %5d %7d %7d  %s (<= %d regs, %d spill, %d stack; %s)" % (
            names[k], r["registers"], r["spill_bytes"], r["stack_bytes"], flag, lim["registers"],
            lim["spill_bytes"], lim["stack_bytes"], why))
        if over:
            failures.append(names[k])
    print("%d kernels, %d over budget" % (len(kernels), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
