"""Events from outside the agent: keepalived's notify FIFO, DHCP lease hotplug calls."""
