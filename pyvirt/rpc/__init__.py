"""pyvirt's wire protocol: libvirt's RPC framing, XDR codecs and procedure tables.

Modules: xdr (codecs), packet (framing), program (descriptors), procedures (the tables
generated from bindings/api/wire.toml), error (remote_error <-> libvirtError).
A server loop, for orientation:

    reader = packet.FrameReader()
    for pkt in reader.packets(sock.recv(packet.MESSAGE_INITIAL)):
        proc = procedures.lookup(pkt.prog, pkt.proc)        # None: unknown procedure
        args = pkt.decode(proc.args)                        # XDRError: reply rpc_error()
        ...
        sock.sendall(packet.encode_frame(pkt.header.reply(), proc.ret, ret))
"""
