"""pyvirt's wire protocol: libvirt's RPC framing, XDR codecs and procedure tables.

Modules: xdr (codecs), packet (framing), program (descriptors), procedures (the
generated tables), error (remote_error and libvirtError).
"""
