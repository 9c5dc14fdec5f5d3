'use strict';
'require view';
'require dom';
'require form';
'require rpc';
'require uci';
'require ui';
'require ha.schema as schema';

/*
 * /etc/config/ha as a form.
 *
 * - Defaults, choices and ranges come from ha.schema, generated from ha-pair's own schema: an
 *   untouched field stays unset, and the agent applies the same default. A default that follows
 *   other options (the priority follows the role) is shown for their values, and again when one
 *   of them changes.
 * - Nothing is staged that ha-pair would reject: before the form (or a table row's dialog)
 *   stages its values, the `luci.ha validate` rpcd plugin checks the whole package with the
 *   rules of `ha-pair check`; its errors name the UCI option and nothing is saved.
 * - Saving without an edit stages nothing: a field is written only when its value differs from
 *   what /etc/config/ha says (an unset option reads as its default).
 * - Interfaces are listed by `luci.ha interfaces`, not by LuCI's network model, so an account
 *   that may not read `network` (only luci-app-ha's ACL) can still choose one and save.
 */

const callInterfaces = rpc.declare({
	object: 'luci.ha',
	method: 'interfaces',
	expect: { interfaces: [] }
});

const callValidate = rpc.declare({
	object: 'luci.ha',
	method: 'validate',
	params: [ 'config' ]
});

const LABELS = {
	primary: _('Primary'), secondary: _('Secondary'), default: _('Default'), fast: _('Fast'), fastest: _('Fastest'),
	backup: _('Backup'), master: _('Master'), none: _('None'), pass: _('Password'),
	ping: _('Ping an address'), script: _('Run a script'), interface: _('Interface link'),
	weight: _('Lower the priority'), fault: _('Fault'), ftfw: _('FT-FW (reliable)'), notrack: _('NOTRACK'),
	alarm: _('ALARM'), unicast: _('Unicast to the peer address'), multicast: _('Multicast on the sync link'),
	report: _('Report it'), secondary_steps_down: _('The secondary steps down'),
	manual: _('By hand (ha-pair config-sync)'), push: _('The primary pushes on every reload')
};

function spec(type, name) {
	return schema.sections[type].options[name];
}

/* A schema value as UCI (and a form field) writes it. */
function uciText(value) {
	if (value == null)
		return null;

	if (value === true || value === false)
		return value ? '1' : '0';

	return String(value);
}

/* The default of an option where `valueOf(name)` gives the section's other options: the first of
   its cases they all match, else its plain default (schema.py's Option.default_in). */
function defaultIn(def, valueOf) {
	const hit = def.cases.find((c) => Object.keys(c.when).every((name) => valueOf(name) === uciText(c.when[name])));

	return uciText(hit ? hit.default : def.default);
}

/* The value option `name` of the section has: in the form once it is on the page, else in the
   file; unset, its own default. */
function currentValue(s, section_id, type, name, onPage) {
	const o = onPage ? s.children.find((c) => c.option == name) : null;
	let value = o ? o.formvalue(section_id) : uci.get('ha', section_id, name);

	if (value == null || value === '')
		value = defaultIn(spec(type, name), (other) => currentValue(s, section_id, type, other, onPage));

	return value;
}

/* Options whose default follows other options, refreshed when one of those changes. */
const following = [];

function showDefault(o, value) {
	if (o instanceof form.Flag || o instanceof form.ListValue)
		o.default = value;
	else
		o.placeholder = value;
}

/* The options a default follows changed in the form: show the default for their new values (a
   field that still shows the previous default, and is unset in the file, follows it). */
function refreshDefault(entry, section_id) {
	const o = entry.o;
	const shown = (o instanceof form.Flag || o instanceof form.ListValue) ? o.default : o.placeholder;
	const value = defaultIn(entry.def, (name) => currentValue(entry.s, section_id, entry.type, name, true));
	const widget = o.getUIElement(section_id);

	showDefault(o, value);

	if (!widget)
		return;

	if (o instanceof form.Flag || o instanceof form.ListValue) {
		if (uci.get('ha', section_id, o.option) == null && widget.getValue() === shown)
			widget.setValue(value);
	}
	else {
		widget.setPlaceholder(value);
	}
}

function followDefaults() {
	following.forEach((entry) => {
		const names = new Set(entry.def.cases.flatMap((c) => Object.keys(c.when)));

		names.forEach((name) => {
			const condition = entry.s.children.find((c) => c.option == name);
			const previous = condition ? condition.onchange : null;

			if (!condition)
				return;

			condition.onchange = function(ev, section_id, value) {
				if (previous)
					previous.apply(this, [ ev, section_id, value ]);

				refreshDefault(entry, section_id);
			};
		});
	});
}

/* LuCI's check of a field, from the option's kind and range in the schema. */
function datatype(option) {
	const range = (option.min != null) ? 'range(%s,%s)'.format(option.min, option.max) : null;

	switch (option.kind) {
	case 'int':
		return range ? 'and(%s,%s)'.format(option.min >= 0 ? 'uinteger' : 'integer', range) : 'integer';
	case 'seconds':
		return range ? 'and(ufloat,%s)'.format(range) : 'ufloat';
	case 'ipv4':
		return 'ip4addr("nomask")';
	case 'ip':
		return 'ipaddr("nomask")';
	case 'cidr':
		return 'cidr';
	}

	return null;
}

function same(a, b) {
	return JSON.stringify(L.toArray(a)) == JSON.stringify(L.toArray(b));
}

/* Write only what changed: an untouched field, or one set back to what the file says, stages nothing. */
function writeOnlyChanges(o) {
	const write = o.write, remove = o.remove;

	o.write = function(section_id, value) {
		const current = this.cfgvalue(section_id);

		if (same(current != null ? current : this.default, value))
			return;

		return write.call(this, section_id, value);
	};

	/* LuCI removes a flag that equals its default, and fields whose dependency is off: keep what
	   the file says unless the field itself was changed. */
	o.remove = function(section_id) {
		const current = this.cfgvalue(section_id);

		if (current == null || same(current, this.formvalue(section_id)))
			return;

		return remove.call(this, section_id);
	};

	return o;
}

/* One option of section type `type`, with its default, choices and check from the schema. */
function option(s, tab, widget, type, name, title, description) {
	const o = tab ? s.taboption(tab, widget, name, title, description) : s.option(widget, name, title, description);
	const def = spec(type, name);

	if (widget === form.ListValue) {
		if (def.default == null)
			o.value('', def.derived ? _('Default: %s').format(def.derived) : _('Not set'));
		def.choices.forEach((choice) => o.value(choice, LABELS[choice] || choice));
	}

	showDefault(o, def.default != null ? uciText(def.default) : def.derived);

	if (def.cases.length) {
		/* shown for the other options' values in the file, then kept up to date (followDefaults) */
		const renderWidget = o.renderWidget;

		o.renderWidget = function(section_id, option_index, cfgvalue) {
			showDefault(this, defaultIn(def, (name) => currentValue(s, section_id, type, name, false)));
			return renderWidget.call(this, section_id, option_index, cfgvalue);
		};
		following.push({ s: s, o: o, type: type, def: def });
	}

	if (widget !== form.Flag && widget !== form.ListValue)
		o.datatype = datatype(def);

	return writeOnlyChanges(o);
}

/* The interfaces of /etc/config/network as choices; a configured name that is not there stays. */
function interfaceOption(s, tab, type, name, title, description, interfaces) {
	const o = option(s, tab, form.ListValue, type, name, title, description);

	interfaces.forEach((iface) => {
		const detail = [ iface.device ].concat(iface.addresses || []).filter((x) => x != null);
		o.value(iface.name, detail.length ? '%s (%s)'.format(iface.name, detail.join(', ')) : iface.name);
	});

	const load = o.load;

	o.load = function(section_id) {
		const value = load.call(this, section_id);

		if (value != null && !interfaces.some((iface) => iface.name == value))
			this.value(value, _('%s (not in /etc/config/network)').format(value));

		return value;
	};

	return o;
}

/* /etc/config/ha as it would be after this save, in the shape of `ubus call uci get`. */
function proposedConfig() {
	const config = {};

	uci.sections('ha').forEach((section) => {
		const sid = section['.name'];
		const values = { '.type': section['.type'], '.name': sid, '.anonymous': section['.anonymous'],
			'.index': section['.index'] };

		Object.keys(section).forEach((key) => {
			const value = (key.charAt(0) != '.') ? uci.get('ha', sid, key) : null;

			if (value != null)
				values[key] = value;
		});

		config[sid] = values;
	});

	return config;
}

/* Resolves when ha-pair would accept the settings; rejects with its errors otherwise. */
function checkWithHaPair() {
	return callValidate(proposedConfig()).then((res) => {
		if (!L.isObject(res) || res.error != null) {
			ui.addNotification(null, E('p', [ _('The settings could not be checked by ha-pair (%s): the Status page lists any error once they are applied.')
				.format(L.isObject(res) ? res.error : rpc.getStatusText(res)) ]), 'warning');
			return;
		}

		if (!res.valid)
			throw new Error([ _('ha-pair would reject these settings; nothing was saved:') ].concat(
				res.errors.map((e) => '%s: %s'.format(e.path, e.message))).join('\n'));
	}, (err) => {
		ui.addNotification(null, E('p', [ _('The settings could not be checked by ha-pair (%s): the Status page lists any error once they are applied.')
			.format(err.message) ]), 'warning');
	});
}

/* A table row's dialog stages its values when saved: check them first. */
function checkedDialogs(s) {
	const save = s.handleModalSave;

	s.handleModalSave = function(modalMap, ev) {
		const activeMap = dom.findClassInstance(this.getActiveModalMap());

		return activeMap.parse().then(checkWithHaPair).then(() => save.call(this, modalMap, ev), (err) => {
			ui.showModal(_('Save error'), [
				E('p', { 'style': 'white-space:pre-wrap' }, [ err.message ]),
				E('div', { 'class': 'right' }, [ E('button', { 'class': 'cbi-button', 'click': ui.hideModal }, [ _('Dismiss') ]) ])
			]);
		});
	};

	return s;
}

return view.extend({
	load() {
		return Promise.all([
			uci.load('ha'),
			L.resolveDefault(callInterfaces(), [])
		]);
	},

	render(data) {
		const interfaces = Array.isArray(data[1]) ? data[1] : [];
		let m, s, o;

		m = new form.Map('ha', _('High Availability'),
			_('One file for both routers: give the secondary the same settings except Role and Peer. Save & Apply reloads ha-pair; settings that ha-pair would reject are refused before they are saved.'));

		/* config global 'global' */
		s = m.section(form.NamedSection, 'global', 'global', _('This node and the pair'));
		s.addremove = false;
		s.tab('general', _('General Settings'));
		s.tab('advanced', _('Advanced Settings'));

		option(s, 'general', form.Flag, 'global', 'enabled', _('Enable'), _('Run ha-pair on this router.'));
		option(s, 'general', form.ListValue, 'global', 'role', _('Role'),
			_('Sets the default priority.'));
		option(s, 'general', form.Value, 'global', 'peer', _('Peer address'),
			_('IPv4 address of the other router on the sync link (connection and lease sync).'));
		interfaceOption(s, 'general', 'global', 'sync_interface', _('Sync interface'),
			_('The interface of the dedicated link to the peer; it needs a static IPv4 address.'), interfaces);
		option(s, 'general', form.ListValue, 'global', 'profile', _('Profile'),
			_('Default: VRRP version 2, one advert per second, takeover in about 3.6 s. Fast: VRRP version 3, ten adverts per second, takeover in about 0.35 s. Fastest: VRRP version 3, 25 adverts per second, takeover in about 0.17 s.'));
		option(s, 'general', form.Flag, 'global', 'preempt', _('Preempt'),
			_('The node with the higher priority takes the virtual IPs back when it returns.'));
		o = option(s, 'general', form.Value, 'global', 'preempt_delay', _('Preempt delay'),
			_('Seconds a returning node with higher priority waits before taking over.'));
		o.depends('preempt', '1');

		option(s, 'advanced', form.ListValue, 'global', 'vrrp_version', _('VRRP version'),
			_('Overrides the profile. Version 3 is needed for IPv6 and for adverts below one second.'));
		option(s, 'advanced', form.Value, 'global', 'advert_int', _('Advert interval'),
			_('Seconds between VRRP adverts. Overrides the profile; below 1 s needs VRRP version 3.'));
		option(s, 'advanced', form.Flag, 'global', 'realtime', _('Real-time VRRP'),
			_('keepalived sends its adverts with real-time priority and locked memory, so a busy router does not miss them. On by default with the fast profiles.'));
		option(s, 'advanced', form.ListValue, 'global', 'initial_state', _('Initial state'),
			_('State in which keepalived starts. Backup on both nodes is the robust choice; master cannot be combined with preempt off.'));
		option(s, 'advanced', form.Flag, 'global', 'unicast', _('Unicast VRRP'),
			_('Send adverts to the peer address of each virtual IP group instead of multicast.'));
		option(s, 'advanced', form.ListValue, 'global', 'auth_type', _('Authentication'),
			_('A clear-text password (VRRP version 2 only) guards against accidents, not attacks.'));
		o = option(s, 'advanced', form.Value, 'global', 'auth_pass', _('Password'),
			_('1 to 8 characters, no spaces; the same on both routers.'));
		o.password = true;
		o.depends('auth_type', 'pass');
		option(s, 'advanced', form.Value, 'global', 'priority', _('Priority'),
			_('VRRP priority; the default follows the role.'));
		o = option(s, 'advanced', form.Value, 'global', 'node_name', _('Node name'),
			_('Name of this node in the status and in keepalived (router_id); default the hostname.'));
		o.datatype = 'hostname';
		option(s, 'advanced', form.ListValue, 'global', 'split_brain', _('On split brain'),
			_('Both routers master at once (told over the sync link) is always shown, logged and given to the hooks. The secondary can also step down (FAULT) until it tries again.'));
		o = option(s, 'advanced', form.Value, 'global', 'split_brain_recheck', _('Split brain recheck'),
			_('Seconds a secondary that stepped down stays out before it tries mastership again.'));
		o.depends('split_brain', 'secondary_steps_down');
		option(s, 'advanced', form.ListValue, 'global', 'config_sync', _('Config sync'),
			_('Send the shared settings (all but role, priority, peer, node name and unicast addresses) to the peer.'));
		interfaceOption(s, 'advanced', 'global', 'single_wan_ip', _('Single WAN address'),
			_('The interface that gets the one address of the ISP on both routers (same WAN MAC); only the master routes through it. Run ha-pair check for what the network settings need.'), interfaces);

		/* config vip: one VRRP instance each; all of them move together */
		s = checkedDialogs(m.section(form.GridSection, 'vip', _('Virtual IPs'),
			_('One group per interface. All groups move together: the master holds every virtual IP. The name (e.g. lan) names the group on the Status page.')));
		s.anonymous = false;
		s.addremove = true;
		s.nodescriptions = true;

		o = interfaceOption(s, null, 'vip', 'interface', _('Interface'), null, interfaces);
		o.rmempty = false;
		o = option(s, null, form.Value, 'vip', 'vrid', _('VRID'),
			_('Virtual router ID, unique on the interface and the same on both routers.'));
		o.rmempty = false;
		option(s, null, form.DynamicList, 'vip', 'address', _('Virtual addresses'),
			_('Address with prefix length, e.g. 192.168.1.1/24 (IPv6 needs VRRP version 3).'));
		o = option(s, null, form.Value, 'vip', 'unicast_peer', _('Unicast peer'),
			_('The address of the peer on this interface (with Unicast VRRP).'));
		o.modalonly = true;
		o = option(s, null, form.Value, 'vip', 'unicast_src', _('Unicast source'),
			_('This node address to send from (with Unicast VRRP).'));
		o.modalonly = true;
		o = option(s, null, form.DynamicList, 'vip', 'virtual_routes', _('Routes on the master'),
			_('keepalived syntax, e.g. 0.0.0.0/0 via 192.0.2.1 dev eth1'));
		o.modalonly = true;
		o = option(s, null, form.DynamicList, 'vip', 'virtual_rules', _('Policy rules on the master'),
			_('keepalived syntax, e.g. to all lookup 250 priority 32770'));
		o.modalonly = true;
		o = option(s, null, form.Flag, 'vip', 'use_vmac', _('Virtual MAC'),
			_('Put the addresses on a macvlan with the VRRP MAC address, so that switches see no MAC move.'));
		o.modalonly = true;
		o = option(s, null, form.DynamicList, 'vip', 'track_port', _('Tracked bridge ports'),
			_('Ports of the interface bridge whose link this node needs, e.g. the uplink lan1: losing it gives up mastership even while other ports keep the bridge up.'));
		o.modalonly = true;
		o.datatype = 'netdevname';

		/* config check */
		s = checkedDialogs(m.section(form.GridSection, 'check', _('Health checks'),
			_('A failing check lowers this node\'s priority (so that a healthy peer takes over) or puts it into fault.')));
		s.anonymous = false;
		s.addremove = true;
		s.nodescriptions = true;

		o = option(s, null, form.ListValue, 'check', 'type', _('Type'));
		o.rmempty = false;
		o = option(s, null, form.Value, 'check', 'target', _('Target'), _('Address to ping.'));
		o.depends('type', 'ping');
		o = option(s, null, form.Value, 'check', 'script', _('Script'),
			_('Absolute path of an executable; exit code 0 means healthy.'));
		o.placeholder = '/etc/ha-pair/check-upstream.sh';
		o.validate = function(section_id, value) {
			return (!value || value.charAt(0) == '/') ? true : _('Expecting an absolute path');
		};
		o.depends('type', 'script');
		o = interfaceOption(s, null, 'check', 'interface', _('Interface'),
			_('The check fails while this interface has no link.'), interfaces);
		o.depends('type', 'interface');
		o = option(s, null, form.ListValue, 'check', 'failure', _('On failure'),
			_('Lower the priority: a healthy peer takes over. Fault: give up mastership even if the peer fails too.'));
		o = option(s, null, form.Value, 'check', 'weight', _('Weight'),
			_('Priority change while the check is down (not 0).'));
		o.depends('failure', 'weight');
		[ [ 'interval', _('Interval'), _('Seconds between checks.') ],
		  [ 'timeout', _('Timeout'), _('Seconds a ping or script may take.') ] ].forEach((field) => {
			o = option(s, null, form.Value, 'check', field[0], field[1], field[2]);
			o.modalonly = true;
			o.depends('type', 'ping');
			o.depends('type', 'script');
		});
		o = option(s, null, form.Value, 'check', 'fall', _('Fall'), _('Failures in a row that mark the check down.'));
		o.modalonly = true;
		o = option(s, null, form.Value, 'check', 'rise', _('Rise'), _('Successes in a row that mark it up again.'));
		o.modalonly = true;

		/* config conntrack 'conntrack' */
		s = m.section(form.NamedSection, 'conntrack', 'conntrack', _('Connection sync'),
			_('conntrackd copies connection (and NAT) state to the peer over the sync link, so that connections survive a takeover.'));
		s.addremove = !uci.get('ha', 'conntrack');

		option(s, null, form.Flag, 'conntrack', 'enabled', _('Enable'));
		option(s, null, form.ListValue, 'conntrack', 'mode', _('Mode'));
		option(s, null, form.ListValue, 'conntrack', 'transport', _('Transport'));
		o = option(s, null, form.Value, 'conntrack', 'multicast_group', _('Multicast group'));
		o.depends('transport', 'multicast');
		option(s, null, form.Value, 'conntrack', 'port', _('Port'), _('UDP port of the sync traffic.'));
		option(s, null, form.Flag, 'conntrack', 'disable_external_cache', _('No external cache'),
			_('Write the peer flows straight into the kernel table instead of committing them at takeover.'));
		o = option(s, null, form.MultiValue, 'conntrack', 'protocol', _('Protocols'),
			_('Synced protocols; empty: all of them.'));
		spec('conntrack', 'protocol').choices.forEach((choice) => o.value(choice, LABELS[choice] || choice));
		o.optional = true;
		option(s, null, form.DynamicList, 'conntrack', 'ignore_address', _('Ignore addresses'),
			_('More addresses or networks whose own traffic is not synced (own, peer, virtual and sync link addresses always are).'));

		/* config dhcp 'dhcp' */
		s = m.section(form.NamedSection, 'dhcp', 'dhcp', _('DHCP'),
			_('Only the master answers DHCP; clients get the virtual IP as gateway and DNS server.'));
		s.addremove = !uci.get('ha', 'dhcp');

		option(s, null, form.Flag, 'dhcp', 'managed', _('Manage DHCP settings'),
			_('Set the virtual IP as gateway and DNS server (DHCP options 3 and 6) and force in the managed sections of /etc/config/dhcp; turning it off undoes exactly those changes.'));
		o = option(s, null, form.DynamicList, 'dhcp', 'section', _('DHCP sections'),
			_('Names of sections in /etc/config/dhcp to manage; default every section on an interface with an IPv4 virtual IP.'));
		o.datatype = 'uciname';
		option(s, null, form.Flag, 'dhcp', 'lease_sync', _('Lease sync'),
			_('Copy DHCP leases to the peer over SSH, so that clients keep their addresses after a takeover.'));
		o = option(s, null, form.Value, 'dhcp', 'reconcile_interval', _('Full exchange every'),
			_('Seconds between full lease exchanges, on top of the exchange at every lease change.'));
		o.depends('lease_sync', '1');
		o = option(s, null, form.Value, 'dhcp', 'ssh_port', _('Peer SSH port'), _('The peer\'s SSH port on the sync link.'));
		o.depends('lease_sync', '1');

		followDefaults();
		this.map = m;
		return m.render();
	},

	/* Resolves true once staged; false when refused (Map.save has shown why in a dialog). */
	handleSave(ev) {
		return this.map.save(checkWithHaPair).then(() => true, () => false);
	},

	handleSaveApply(ev, mode) {
		return this.handleSave(ev).then((saved) => saved ? ui.changes.apply(mode == '0') : null);
	}
});
