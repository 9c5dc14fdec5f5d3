'use strict';
'require baseclass';

/*
 * Generated from ha-pair's src/ha_pair/config/schema.py by ha_pair.config.luci_form:
 * do not edit (a test compares the two).
 */
return baseclass.extend({
	sections: {
		"global": { single: true, options: {
			"enabled": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "default": false, "cases": [], "derived": null},
			"role": {"kind": "enum", "choices": ["primary", "secondary"], "min": null, "max": null, "list": false, "default": "primary", "cases": [], "derived": null},
			"priority": {"kind": "int", "choices": [], "min": 1, "max": 254, "list": false, "default": 150, "cases": [{"when": {"role": "secondary"}, "default": 100}], "derived": null},
			"node_name": {"kind": "string", "choices": [], "min": null, "max": null, "list": false, "default": null, "cases": [], "derived": "hostname"},
			"peer": {"kind": "ipv4", "choices": [], "min": null, "max": null, "list": false, "default": null, "cases": [], "derived": null},
			"sync_interface": {"kind": "string", "choices": [], "min": null, "max": null, "list": false, "default": null, "cases": [], "derived": null},
			"single_wan_ip": {"kind": "string", "choices": [], "min": null, "max": null, "list": false, "default": null, "cases": [], "derived": null},
			"profile": {"kind": "enum", "choices": ["default", "fast", "fastest"], "min": null, "max": null, "list": false, "default": "default", "cases": [], "derived": null},
			"vrrp_version": {"kind": "enum", "choices": ["2", "3"], "min": null, "max": null, "list": false, "default": "2", "cases": [{"when": {"profile": "fast"}, "default": "3"}, {"when": {"profile": "fastest"}, "default": "3"}], "derived": null},
			"advert_int": {"kind": "seconds", "choices": [], "min": 0.01, "max": 255, "list": false, "default": 1, "cases": [{"when": {"profile": "fast", "vrrp_version": "3"}, "default": 0.1}, {"when": {"profile": "fastest", "vrrp_version": "3"}, "default": 0.04}], "derived": null},
			"realtime": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "default": false, "cases": [{"when": {"profile": "fast"}, "default": true}, {"when": {"profile": "fastest"}, "default": true}], "derived": null},
			"preempt": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "default": true, "cases": [], "derived": null},
			"preempt_delay": {"kind": "int", "choices": [], "min": 0, "max": 1000, "list": false, "default": 0, "cases": [{"when": {"profile": "fast"}, "default": 2}, {"when": {"profile": "fastest"}, "default": 2}], "derived": null},
			"initial_state": {"kind": "enum", "choices": ["backup", "master"], "min": null, "max": null, "list": false, "default": "backup", "cases": [], "derived": null},
			"unicast": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "default": false, "cases": [], "derived": null},
			"auth_type": {"kind": "enum", "choices": ["none", "pass"], "min": null, "max": null, "list": false, "default": "none", "cases": [], "derived": null},
			"auth_pass": {"kind": "string", "choices": [], "min": null, "max": null, "list": false, "default": null, "cases": [], "derived": null},
			"split_brain": {"kind": "enum", "choices": ["report", "secondary_steps_down"], "min": null, "max": null, "list": false, "default": "report", "cases": [], "derived": null},
			"config_sync": {"kind": "enum", "choices": ["manual", "push"], "min": null, "max": null, "list": false, "default": "manual", "cases": [], "derived": null},
			"split_brain_recheck": {"kind": "int", "choices": [], "min": 5, "max": 3600, "list": false, "default": 60, "cases": [], "derived": null}
		} },
		"vip": { single: false, options: {
			"interface": {"kind": "string", "choices": [], "min": null, "max": null, "list": false, "default": null, "cases": [], "derived": null},
			"vrid": {"kind": "int", "choices": [], "min": 1, "max": 255, "list": false, "default": null, "cases": [], "derived": null},
			"address": {"kind": "cidr", "choices": [], "min": null, "max": null, "list": true, "default": null, "cases": [], "derived": null},
			"unicast_peer": {"kind": "ip", "choices": [], "min": null, "max": null, "list": false, "default": null, "cases": [], "derived": null},
			"unicast_src": {"kind": "ip", "choices": [], "min": null, "max": null, "list": false, "default": null, "cases": [], "derived": "interface address"},
			"virtual_routes": {"kind": "string", "choices": [], "min": null, "max": null, "list": true, "default": null, "cases": [], "derived": null},
			"virtual_rules": {"kind": "string", "choices": [], "min": null, "max": null, "list": true, "default": null, "cases": [], "derived": null},
			"use_vmac": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "default": false, "cases": [], "derived": null},
			"track_port": {"kind": "string", "choices": [], "min": null, "max": null, "list": true, "default": null, "cases": [], "derived": "the bridge's only port"}
		} },
		"check": { single: false, options: {
			"type": {"kind": "enum", "choices": ["ping", "script", "interface"], "min": null, "max": null, "list": false, "default": null, "cases": [], "derived": null},
			"target": {"kind": "ip", "choices": [], "min": null, "max": null, "list": false, "default": null, "cases": [], "derived": null},
			"script": {"kind": "path", "choices": [], "min": null, "max": null, "list": false, "default": null, "cases": [], "derived": null},
			"interface": {"kind": "string", "choices": [], "min": null, "max": null, "list": false, "default": null, "cases": [], "derived": null},
			"interval": {"kind": "int", "choices": [], "min": 1, "max": 3600, "list": false, "default": 2, "cases": [], "derived": null},
			"timeout": {"kind": "int", "choices": [], "min": 1, "max": 3600, "list": false, "default": 1, "cases": [], "derived": null},
			"fall": {"kind": "int", "choices": [], "min": 1, "max": 255, "list": false, "default": 3, "cases": [], "derived": null},
			"rise": {"kind": "int", "choices": [], "min": 1, "max": 255, "list": false, "default": 2, "cases": [], "derived": null},
			"failure": {"kind": "enum", "choices": ["weight", "fault"], "min": null, "max": null, "list": false, "default": "weight", "cases": [], "derived": null},
			"weight": {"kind": "int", "choices": [], "min": -253, "max": 253, "list": false, "default": -60, "cases": [], "derived": null}
		} },
		"conntrack": { single: true, options: {
			"enabled": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "default": true, "cases": [], "derived": null},
			"mode": {"kind": "enum", "choices": ["ftfw", "notrack", "alarm"], "min": null, "max": null, "list": false, "default": "ftfw", "cases": [], "derived": null},
			"transport": {"kind": "enum", "choices": ["unicast", "multicast"], "min": null, "max": null, "list": false, "default": "unicast", "cases": [], "derived": null},
			"multicast_group": {"kind": "ipv4", "choices": [], "min": null, "max": null, "list": false, "default": "225.0.0.50", "cases": [], "derived": null},
			"port": {"kind": "int", "choices": [], "min": 1, "max": 65535, "list": false, "default": 3780, "cases": [], "derived": null},
			"disable_external_cache": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "default": true, "cases": [{"when": {"mode": "alarm"}, "default": false}], "derived": null},
			"ignore_address": {"kind": "cidr", "choices": [], "min": null, "max": null, "list": true, "default": null, "cases": [], "derived": null},
			"protocol": {"kind": "enum", "choices": ["tcp", "sctp", "dccp", "udp", "icmp", "icmpv6"], "min": null, "max": null, "list": true, "default": null, "cases": [], "derived": null}
		} },
		"dhcp": { single: true, options: {
			"managed": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "default": true, "cases": [], "derived": null},
			"section": {"kind": "string", "choices": [], "min": null, "max": null, "list": true, "default": null, "cases": [], "derived": "all with a VIP"},
			"lease_sync": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "default": true, "cases": [], "derived": null},
			"reconcile_interval": {"kind": "int", "choices": [], "min": 5, "max": 3600, "list": false, "default": 60, "cases": [], "derived": null},
			"ssh_port": {"kind": "int", "choices": [], "min": 1, "max": 65535, "list": false, "default": 22, "cases": [], "derived": null}
		} }
	}
});
