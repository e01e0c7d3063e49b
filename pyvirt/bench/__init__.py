"""pyvirt-bench: pyvirt against libvirt and raw QEMU, side by side, in one run.

    pyvirt-bench --quick                      # or: python -m pyvirt.bench --quick
    pyvirt-bench --targets pyvirt,libvirt --workloads test,guest.lifecycle --trials 5

Workloads (`--list`): the test driver (define, listAllDomains, lookup+info, XMLDesc,
create/destroy), guest lifecycle (start, destroy, suspend/resume, info/state,
save/restore, N at once), QMP round trips, lifecycle-event latency, memory peeks, and
RPC calls per second through a daemon (unix socket and TCP, 1 and 50 clients).
Targets: pyvirt (in-process), pyvirtd (through a private pyvirtd), libvirt
(libvirt-python; a private libvirtd for QEMU) and qemu (raw QEMU: the floor).

Module map: core (vocabulary), targets, runner (interleaved trials), wl_* (workloads),
guests (guest XML and helpers), stats, machine, report (JSON, tables), plots, main (CLI).
"""
