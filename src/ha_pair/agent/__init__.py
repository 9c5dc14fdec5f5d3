"""The ha-pair agent: follows keepalived's transitions, keeps the pair's state and answers
`status` over its control socket and ubus. It configures and observes; it is never in the
packet path (keepalived's notify script does what traffic depends on)."""
