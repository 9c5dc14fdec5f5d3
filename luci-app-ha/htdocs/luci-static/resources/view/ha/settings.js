'use strict';
'require view';
'require form';
'require uci';
'require tools.widgets as widgets';

/*
 * /etc/config/ha as a form. Every option and default follows the reference in
 * the ha-pair README. Defaults are set on the widgets so that LuCI removes an
 * option that equals its default (the agent then applies the same default) and
 * writes a flag only as '1' or '0', never merely because the option exists.
 * Whatever the form cannot check (addresses in the right subnet, unique VRIDs,
 * ...) is reported by `ha-pair check` and on the Status page.
 */

return view.extend({
	load() {
		return uci.load('ha');
	},

	render() {
		let m, s, o;

		m = new form.Map('ha', _('High Availability'),
			_('One file for both routers: give the secondary the same settings except Role and Peer. Save & Apply reloads ha-pair; the Status page lists any configuration error.'));

		/* config global 'global' */
		s = m.section(form.NamedSection, 'global', 'global', _('This node and the pair'));
		s.addremove = false;
		s.tab('general', _('General Settings'));
		s.tab('advanced', _('Advanced Settings'));

		o = s.taboption('general', form.Flag, 'enabled', _('Enable'),
			_('Run ha-pair on this router.'));
		o.default = '0';

		o = s.taboption('general', form.ListValue, 'role', _('Role'),
			_('Sets the default priority: 150 for the primary, 100 for the secondary.'));
		o.value('primary', _('Primary'));
		o.value('secondary', _('Secondary'));
		o.default = 'primary';

		o = s.taboption('general', form.Value, 'peer', _('Peer address'),
			_('IPv4 address of the other router on the sync link (connection and lease sync).'));
		o.datatype = 'ip4addr("nomask")';
		o.placeholder = '10.255.0.2';

		o = s.taboption('general', widgets.NetworkSelect, 'sync_interface', _('Sync interface'),
			_('The interface of the dedicated link to the peer; it needs a static IPv4 address.'));
		o.nocreate = true;

		o = s.taboption('general', form.ListValue, 'profile', _('Profile'),
			_('Default: VRRP version 2, one advert per second, takeover in about 3.6 s. Fast: VRRP version 3, ten adverts per second, takeover in about 0.35 s.'));
		o.value('default', _('Default'));
		o.value('fast', _('Fast'));
		o.default = 'default';

		o = s.taboption('general', form.Flag, 'preempt', _('Preempt'),
			_('The node with the higher priority takes the virtual IPs back when it returns.'));
		o.default = '1';

		o = s.taboption('general', form.Value, 'preempt_delay', _('Preempt delay'),
			_('Seconds a returning node with higher priority waits before taking over.'));
		o.datatype = 'and(uinteger,range(0,1000))';
		o.placeholder = '0';
		o.depends('preempt', '1');

		o = s.taboption('advanced', form.ListValue, 'vrrp_version', _('VRRP version'),
			_('Overrides the profile. Version 3 is needed for IPv6 and for adverts below one second.'));
		o.value('', _('From the profile'));
		o.value('2', '2');
		o.value('3', '3');

		o = s.taboption('advanced', form.Value, 'advert_int', _('Advert interval'),
			_('Seconds between VRRP adverts (0.01 to 255). Overrides the profile; below 1 s needs VRRP version 3.'));
		o.datatype = 'range(0.01,255)';
		o.placeholder = _('From the profile');

		o = s.taboption('advanced', form.ListValue, 'initial_state', _('Initial state'),
			_('State in which keepalived starts. Backup on both nodes is the robust choice; master cannot be combined with preempt off.'));
		o.value('backup', _('Backup'));
		o.value('master', _('Master'));
		o.default = 'backup';

		o = s.taboption('advanced', form.Flag, 'unicast', _('Unicast VRRP'),
			_('Send adverts to the peer address of each virtual IP group instead of multicast.'));
		o.default = '0';

		o = s.taboption('advanced', form.ListValue, 'auth_type', _('Authentication'),
			_('A clear-text password (VRRP version 2 only) guards against accidents, not attacks.'));
		o.value('none', _('None'));
		o.value('pass', _('Password'));
		o.default = 'none';

		o = s.taboption('advanced', form.Value, 'auth_pass', _('Password'),
			_('1 to 8 characters, no spaces; the same on both routers.'));
		o.password = true;
		o.rmempty = false;
		o.datatype = 'rangelength(1,8)';
		o.validate = function(section_id, value) {
			return /\s/.test(value) ? _('Expecting a password without spaces') : true;
		};
		o.depends('auth_type', 'pass');

		o = s.taboption('advanced', form.Value, 'priority', _('Priority'),
			_('VRRP priority 1 to 254; the default follows the role.'));
		o.datatype = 'and(uinteger,range(1,254))';
		o.placeholder = _('150 (primary) / 100 (secondary)');

		o = s.taboption('advanced', form.Value, 'node_name', _('Node name'),
			_('Name of this node in the status and in keepalived (router_id); default the hostname.'));
		o.datatype = 'hostname';
		o.placeholder = _('hostname');

		/* config vip: one VRRP instance each; all of them move together */
		s = m.section(form.TypedSection, 'vip', _('Virtual IPs'),
			_('One group per interface. All groups move together: the master holds every virtual IP. The section name (e.g. lan) names the group on the Status page.'));
		s.anonymous = false;
		s.addremove = true;

		o = s.option(widgets.NetworkSelect, 'interface', _('Interface'));
		o.nocreate = true;
		o.rmempty = false;

		o = s.option(form.Value, 'vrid', _('VRID'),
			_('Virtual router ID 1 to 255, unique on the interface and the same on both routers.'));
		o.datatype = 'and(uinteger,range(1,255))';
		o.rmempty = false;

		o = s.option(form.DynamicList, 'address', _('Virtual addresses'),
			_('Address with prefix length, e.g. 192.168.1.1/24 (IPv6 needs VRRP version 3).'));
		o.datatype = 'cidr';

		o = s.option(form.Value, 'unicast_peer', _('Unicast peer'),
			_('The address of the peer on this interface.'));
		o.datatype = 'ipaddr("nomask")';
		o.depends('ha.global.unicast', '1');

		o = s.option(form.Value, 'unicast_src', _('Unicast source'),
			_('This node address to send from; default its static address on the interface.'));
		o.datatype = 'ipaddr("nomask")';
		o.depends('ha.global.unicast', '1');

		o = s.option(form.DynamicList, 'virtual_routes', _('Routes on the master'),
			_('keepalived syntax, e.g. 0.0.0.0/0 via 192.0.2.1 dev eth1'));

		o = s.option(form.DynamicList, 'virtual_rules', _('Policy rules on the master'),
			_('keepalived syntax, e.g. to all lookup 250 priority 32770'));

		o = s.option(form.Flag, 'use_vmac', _('Virtual MAC'),
			_('Put the addresses on a macvlan with the VRRP MAC address, so that switches see no MAC move.'));
		o.default = '0';

		/* config check */
		s = m.section(form.TypedSection, 'check', _('Health checks'),
			_('A failing check makes this node give up the virtual IPs.'));
		s.anonymous = false;
		s.addremove = true;

		o = s.option(form.ListValue, 'type', _('Type'));
		o.value('ping', _('Ping an address'));
		o.value('script', _('Run a script'));
		o.value('interface', _('Interface link'));
		o.default = 'ping';
		o.rmempty = false;

		o = s.option(form.Value, 'target', _('Target'),
			_('Address to ping.'));
		o.datatype = 'ipaddr("nomask")';
		o.rmempty = false;
		o.depends('type', 'ping');

		o = s.option(form.Value, 'script', _('Script'),
			_('Absolute path of an executable; exit code 0 means healthy.'));
		o.rmempty = false;
		o.placeholder = '/etc/ha-pair/check-upstream.sh';
		o.validate = function(section_id, value) {
			return (!value || value.charAt(0) == '/') ? true : _('Expecting an absolute path');
		};
		o.depends('type', 'script');

		o = s.option(widgets.NetworkSelect, 'interface', _('Interface'),
			_('The check fails while this interface has no link.'));
		o.nocreate = true;
		o.rmempty = false;
		o.depends('type', 'interface');

		o = s.option(form.Value, 'interval', _('Interval'), _('Seconds between checks.'));
		o.datatype = 'and(uinteger,range(1,3600))';
		o.placeholder = '2';
		o.depends('type', 'ping');
		o.depends('type', 'script');

		o = s.option(form.Value, 'timeout', _('Timeout'), _('Seconds a ping or script may take.'));
		o.datatype = 'and(uinteger,range(1,3600))';
		o.placeholder = '1';
		o.depends('type', 'ping');
		o.depends('type', 'script');

		o = s.option(form.Value, 'fall', _('Fall'), _('Failures in a row that mark the check down.'));
		o.datatype = 'and(uinteger,range(1,255))';
		o.placeholder = '3';

		o = s.option(form.Value, 'rise', _('Rise'), _('Successes in a row that mark it up again.'));
		o.datatype = 'and(uinteger,range(1,255))';
		o.placeholder = '2';

		o = s.option(form.ListValue, 'failure', _('On failure'),
			_('Weight: lower the priority so that a healthy peer takes over. Fault: give up mastership even if the peer fails too.'));
		o.value('weight', _('Lower the priority'));
		o.value('fault', _('Fault'));
		o.default = 'weight';

		o = s.option(form.Value, 'weight', _('Weight'),
			_('Priority change while the check is down (-253 to 253, not 0).'));
		o.datatype = 'and(integer,range(-253,253))';
		o.placeholder = '-60';
		o.depends('failure', 'weight');

		/* config conntrack 'conntrack' */
		s = m.section(form.NamedSection, 'conntrack', 'conntrack', _('Connection sync'),
			_('conntrackd copies connection (and NAT) state to the peer over the sync link, so that connections survive a takeover.'));
		s.addremove = !uci.get('ha', 'conntrack');

		o = s.option(form.Flag, 'enabled', _('Enable'));
		o.default = '1';

		o = s.option(form.ListValue, 'mode', _('Mode'));
		o.value('ftfw', _('FT-FW (reliable)'));
		o.value('notrack', _('NOTRACK'));
		o.value('alarm', _('ALARM'));
		o.default = 'ftfw';

		o = s.option(form.ListValue, 'transport', _('Transport'));
		o.value('unicast', _('Unicast to the peer address'));
		o.value('multicast', _('Multicast on the sync link'));
		o.default = 'unicast';

		o = s.option(form.Value, 'multicast_group', _('Multicast group'));
		o.datatype = 'ip4addr("nomask")';
		o.placeholder = '225.0.0.50';
		o.depends('transport', 'multicast');

		o = s.option(form.Value, 'port', _('Port'), _('UDP port of the sync traffic.'));
		o.datatype = 'and(uinteger,range(1,65535))';
		o.placeholder = '3780';

		o = s.option(form.Flag, 'disable_external_cache', _('No external cache'),
			_('Write the peer flows straight into the kernel table instead of committing them at takeover.'));
		o.default = '1';

		o = s.option(form.DynamicList, 'ignore_address', _('Ignore addresses'),
			_('More addresses or networks whose own traffic is not synced (own, peer, virtual and sync link addresses always are).'));
		o.datatype = 'cidr';

		/* config dhcp 'dhcp' */
		s = m.section(form.NamedSection, 'dhcp', 'dhcp', _('DHCP'),
			_('Only the master answers DHCP; clients get the virtual IP as gateway and DNS server.'));
		s.addremove = !uci.get('ha', 'dhcp');

		o = s.option(form.Flag, 'managed', _('Manage DHCP settings'),
			_('Set the virtual IP as gateway and DNS server (DHCP options 3 and 6) and force in the managed sections of /etc/config/dhcp; turning it off undoes exactly those changes.'));
		o.default = '1';

		o = s.option(form.DynamicList, 'section', _('DHCP sections'),
			_('Names of sections in /etc/config/dhcp to manage; default every section on an interface with an IPv4 virtual IP.'));
		o.datatype = 'uciname';

		o = s.option(form.Flag, 'lease_sync', _('Lease sync'),
			_('Copy DHCP leases to the peer over SSH, so that clients keep their addresses after a takeover.'));
		o.default = '1';

		o = s.option(form.Value, 'reconcile_interval', _('Full exchange every'),
			_('Seconds between full lease exchanges, on top of the exchange at every lease change.'));
		o.datatype = 'and(uinteger,range(5,3600))';
		o.placeholder = '60';
		o.depends('lease_sync', '1');

		o = s.option(form.Value, 'ssh_port', _('Peer SSH port'),
			_('The peer\'s SSH port on the sync link.'));
		o.datatype = 'and(uinteger,range(1,65535))';
		o.placeholder = '22';
		o.depends('lease_sync', '1');

		return m.render();
	}
});
