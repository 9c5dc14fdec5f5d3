'use strict';
'require baseclass';

/*
 * Generated from ha-pair's src/ha_pair/config/schema.py by ha_pair.config.luci_form:
 * do not edit (a test compares the two).
 */
return baseclass.extend({
	sections: {
		"global": { single: true, options: {
			"enabled": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "value": "0", "text": "0"},
			"role": {"kind": "enum", "choices": ["primary", "secondary"], "min": null, "max": null, "list": false, "value": "primary", "text": "primary"},
			"priority": {"kind": "int", "choices": [], "min": 1, "max": 254, "list": false, "value": null, "text": "150 / 100"},
			"node_name": {"kind": "string", "choices": [], "min": null, "max": null, "list": false, "value": null, "text": "hostname"},
			"peer": {"kind": "ipv4", "choices": [], "min": null, "max": null, "list": false, "value": null, "text": null},
			"sync_interface": {"kind": "string", "choices": [], "min": null, "max": null, "list": false, "value": null, "text": null},
			"profile": {"kind": "enum", "choices": ["default", "fast"], "min": null, "max": null, "list": false, "value": "default", "text": "default"},
			"vrrp_version": {"kind": "enum", "choices": ["2", "3"], "min": null, "max": null, "list": false, "value": null, "text": "2 (fast: 3)"},
			"advert_int": {"kind": "seconds", "choices": [], "min": 0.01, "max": 255, "list": false, "value": null, "text": "1 (fast: 0.1)"},
			"preempt": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "value": "1", "text": "1"},
			"preempt_delay": {"kind": "int", "choices": [], "min": 0, "max": 1000, "list": false, "value": "0", "text": "0"},
			"initial_state": {"kind": "enum", "choices": ["backup", "master"], "min": null, "max": null, "list": false, "value": "backup", "text": "backup"},
			"unicast": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "value": "0", "text": "0"},
			"auth_type": {"kind": "enum", "choices": ["none", "pass"], "min": null, "max": null, "list": false, "value": "none", "text": "none"},
			"auth_pass": {"kind": "string", "choices": [], "min": null, "max": null, "list": false, "value": null, "text": null}
		} },
		"vip": { single: false, options: {
			"interface": {"kind": "string", "choices": [], "min": null, "max": null, "list": false, "value": null, "text": null},
			"vrid": {"kind": "int", "choices": [], "min": 1, "max": 255, "list": false, "value": null, "text": null},
			"address": {"kind": "cidr", "choices": [], "min": null, "max": null, "list": true, "value": null, "text": null},
			"unicast_peer": {"kind": "ip", "choices": [], "min": null, "max": null, "list": false, "value": null, "text": null},
			"unicast_src": {"kind": "ip", "choices": [], "min": null, "max": null, "list": false, "value": null, "text": "interface address"},
			"virtual_routes": {"kind": "string", "choices": [], "min": null, "max": null, "list": true, "value": null, "text": null},
			"virtual_rules": {"kind": "string", "choices": [], "min": null, "max": null, "list": true, "value": null, "text": null},
			"use_vmac": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "value": "0", "text": "0"}
		} },
		"check": { single: false, options: {
			"type": {"kind": "enum", "choices": ["ping", "script", "interface"], "min": null, "max": null, "list": false, "value": null, "text": null},
			"target": {"kind": "ip", "choices": [], "min": null, "max": null, "list": false, "value": null, "text": null},
			"script": {"kind": "path", "choices": [], "min": null, "max": null, "list": false, "value": null, "text": null},
			"interface": {"kind": "string", "choices": [], "min": null, "max": null, "list": false, "value": null, "text": null},
			"interval": {"kind": "int", "choices": [], "min": 1, "max": 3600, "list": false, "value": "2", "text": "2"},
			"timeout": {"kind": "int", "choices": [], "min": 1, "max": 3600, "list": false, "value": "1", "text": "1"},
			"fall": {"kind": "int", "choices": [], "min": 1, "max": 255, "list": false, "value": "3", "text": "3"},
			"rise": {"kind": "int", "choices": [], "min": 1, "max": 255, "list": false, "value": "2", "text": "2"},
			"failure": {"kind": "enum", "choices": ["weight", "fault"], "min": null, "max": null, "list": false, "value": "weight", "text": "weight"},
			"weight": {"kind": "int", "choices": [], "min": -253, "max": 253, "list": false, "value": "-60", "text": "-60"}
		} },
		"conntrack": { single: true, options: {
			"enabled": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "value": "1", "text": "1"},
			"mode": {"kind": "enum", "choices": ["ftfw", "notrack", "alarm"], "min": null, "max": null, "list": false, "value": "ftfw", "text": "ftfw"},
			"transport": {"kind": "enum", "choices": ["unicast", "multicast"], "min": null, "max": null, "list": false, "value": "unicast", "text": "unicast"},
			"multicast_group": {"kind": "ipv4", "choices": [], "min": null, "max": null, "list": false, "value": "225.0.0.50", "text": "225.0.0.50"},
			"port": {"kind": "int", "choices": [], "min": 1, "max": 65535, "list": false, "value": "3780", "text": "3780"},
			"disable_external_cache": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "value": "1", "text": "1"},
			"ignore_address": {"kind": "cidr", "choices": [], "min": null, "max": null, "list": true, "value": null, "text": null}
		} },
		"dhcp": { single: true, options: {
			"managed": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "value": "1", "text": "1"},
			"section": {"kind": "string", "choices": [], "min": null, "max": null, "list": true, "value": null, "text": "all with a VIP"},
			"lease_sync": {"kind": "bool", "choices": [], "min": null, "max": null, "list": false, "value": "1", "text": "1"},
			"reconcile_interval": {"kind": "int", "choices": [], "min": 5, "max": 3600, "list": false, "value": "60", "text": "60"},
			"ssh_port": {"kind": "int", "choices": [], "min": 1, "max": 65535, "list": false, "value": "22", "text": "22"}
		} }
	}
});
