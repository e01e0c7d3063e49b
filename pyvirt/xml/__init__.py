"""pyvirt.xml: libvirt's config XML (domain, network, pool, volume, test node) <-> typed models."""
