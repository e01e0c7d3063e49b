"""pyvirtd: pyvirt's drivers served over libvirt's remote protocol.

Real libvirt clients (virsh, libvirt-python) and pyvirt's own remote driver talk to it
on a read-write and a read-only unix socket, and optionally on TCP and TLS. Modules:
main (command line), config (settings), server (listeners, event loop, timers),
client (one client's I/O and limits), dispatch (routing and protocol checks), procs
(hand-written procedures), _dispatch_gen (generated procedures), workers (the pool),
tls (x509 and the DN allow-list).
"""
