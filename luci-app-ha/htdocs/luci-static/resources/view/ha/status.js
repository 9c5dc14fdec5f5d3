'use strict';
'require view';
'require dom';
'require poll';
'require rpc';
'require uci';
'require ui';

/*
 * Read-only status of the ha-pair agent: `ubus call ha status` and
 * `ubus call ha history`, refreshed every 5 seconds.
 *
 * Both calls are declared without `expect`, so that a failure stays visible.
 * Through uhttpd's /ubus a failure is a JSON-RPC error that rpc.js turns into
 * a rejected promise: -32000 "Object not found" when the agent is not running,
 * -32003 when it did not answer within uhttpd's script timeout (a hung agent),
 * -32002 when the login may not call it; LuCI's own 20 s request timeout may
 * come first. Through LuCI's admin/ubus fallback the same cases resolve with
 * the ubus status (4 not found, 7 timeout). Each is mapped to a sentence.
 */
const callStatus = rpc.declare({
	object: 'ha',
	method: 'status'
});

const callHistory = rpc.declare({
	object: 'ha',
	method: 'history'
});

/*
 * Handover, maintenance and config sync move the VIPs or change the peer: granted by the ACL group
 * luci-app-ha-operate only (write), never by luci-app-ha. The page asks rpcd
 * whether this login holds it and otherwise shows the buttons disabled.
 */
const callHandover = rpc.declare({
	object: 'ha',
	method: 'handover'
});

const callMaintenance = rpc.declare({
	object: 'ha',
	method: 'maintenance',
	params: [ 'state', 'force' ]
});

/* in a process of its own (the rpcd plugin), so the agent never waits for the peer */
const callConfigSync = rpc.declare({
	object: 'luci.ha',
	method: 'config_sync',
	params: [ 'dry_run' ]
});

const callAccess = rpc.declare({
	object: 'session',
	method: 'access',
	params: [ 'scope', 'object', 'function' ],
	expect: { access: false }
});

const OPERATE_ACL = 'luci-app-ha-operate';

const UBUS_STATUS_NOT_FOUND = 4;
const UBUS_STATUS_TIMEOUT = 7;
const RPC_OBJECT_NOT_FOUND = -32000;
const RPC_ACCESS_DENIED = -32002;
const RPC_TIMEOUT = -32003;

const STATES = {
	master: [ _('Master'), 'good' ],
	backup: [ _('Backup'), null ],
	fault: [ _('Fault'), 'bad' ],
	stopped: [ _('Stopped'), 'bad' ],
	unknown: [ _('Unknown'), 'warn' ]
};

const COLOURS = { good: 'color:#2e7d32', warn: 'color:#ef6c00', bad: 'color:#c62828' };

/* A promise that always resolves: { value } or { error }. */
function settle(promise) {
	return promise.then((value) => ({ value: value }), (error) => ({ error: error }));
}

/* Fields may be missing or null: read sub-objects through obj(). */
function obj(value) {
	return L.isObject(value) ? value : {};
}

function uciTrue(value) {
	return [ '1', 'yes', 'on', 'true', 'enabled' ].indexOf(String(value).toLowerCase()) > -1;
}

function coloured(text, kind) {
	return kind ? E('strong', { 'style': COLOURS[kind] }, [ text ]) : E('strong', {}, [ text ]);
}

function stateLabel(state) {
	const known = STATES[state];

	if (known)
		return coloured(known[0], known[1]);

	return (state != null) ? coloured(String(state), 'warn') : null;
}

function stateText(state) {
	return STATES[state] ? STATES[state][0] : (state != null ? String(state) : '?');
}

function roleText(role) {
	if (role == 'primary')
		return _('Primary');
	if (role == 'secondary')
		return _('Secondary');
	return role;
}

/* true / false as a coloured answer; null (unknown) stays empty. kinds: colours of [true, false]. */
const GOOD_BAD = [ 'good', 'bad' ];
const NEUTRAL = [ null, null ];
const BAD_GOOD = [ 'bad', 'good' ];

function answer(value, yes, no, kinds) {
	kinds = kinds || GOOD_BAD;

	if (value === true)
		return coloured(yes || _('yes'), kinds[0]);
	if (value === false)
		return coloured(no || _('no'), kinds[1]);
	return null;
}

function signed(n) {
	return isNumber(n) ? ((n > 0) ? '+' + n : String(n)) : '?';
}

function isNumber(value) {
	return typeof(value) == 'number' && isFinite(value);
}

function fmtTime(t) {
	return isNumber(t) ? new Date(t * 1000).toLocaleString() : null;
}

/* "since" times are shown with their age, measured on the router's clock (status.time). */
function fmtSince(t, now) {
	if (!isNumber(t))
		return null;

	return _('%s (%s ago)').format(fmtTime(t), '%t'.format(Math.max(0, Math.round(now - t))));
}

function cell(value) {
	return (value == null || value === '') ? '-' : value;
}

function kvTable(rows) {
	return E('table', { 'class': 'table' }, rows.filter((row) => row != null).map((row) =>
		E('tr', { 'class': 'tr' }, [
			E('td', { 'class': 'td left', 'width': '33%' }, [ row[0] ]),
			E('td', { 'class': 'td left' }, [ cell(row[1]) ])
		])));
}

function gridTable(headers, rows, empty) {
	const table = E('table', { 'class': 'table' }, [
		E('tr', { 'class': 'tr table-titles' }, headers.map((h) => E('th', { 'class': 'th' }, [ h ])))
	]);

	if (!rows.length)
		table.appendChild(E('tr', { 'class': 'tr placeholder' }, [
			E('td', { 'class': 'td', 'colspan': headers.length }, [ E('em', {}, [ empty ]) ])
		]));

	rows.forEach((row) => table.appendChild(E('tr', { 'class': 'tr' }, row.map((value, i) =>
		E('td', { 'class': 'td', 'data-title': headers[i] }, [ cell(value) ])))));

	return table;
}

function section(title, content) {
	return E('div', { 'class': 'cbi-section' }, [ E('h3', {}, [ title ]), content ]);
}

function list(items) {
	return E('ul', {}, items.map((item) => E('li', {}, [ String(item) ])));
}

/* The JSON-RPC error code of a rejected call ("RPC call to ha/status failed with error -32000: ..."). */
function rpcCode(error) {
	const match = /failed with error (-?\d+)/.exec(String(error && error.message));
	return match ? +match[1] : null;
}

/* Why there is no status to show, or null when there is one. */
function failureText(res, enabled) {
	const code = res.error ? rpcCode(res.error) : null;
	const notRunning = (code === RPC_OBJECT_NOT_FOUND || res.value === UBUS_STATUS_NOT_FOUND);
	const hung = (code === RPC_TIMEOUT || res.value === UBUS_STATUS_TIMEOUT ||
		(res.error && /timed out/.test(String(res.error.message))));

	if (notRunning) {
		if (!enabled)
			return _('ha-pair is disabled on this router: enable it under Settings, or run: uci set ha.global.enabled=1; uci commit ha');

		return _('The ha-pair agent is not running: /etc/init.d/ha-pair start (if it does not stay up, ha-pair check shows what is wrong with /etc/config/ha). Failover does not depend on it: keepalived keeps running.');
	}

	if (hung)
		return _('The ha-pair agent did not answer in time: it may be hung. /etc/init.d/ha-pair restart starts it again; failover does not depend on it.');

	if (code === RPC_ACCESS_DENIED)
		return _('Access denied: this login may not call ubus ha status (ACL luci-app-ha).');

	if (res.error)
		return _('Cannot query the ha-pair agent: %s').format(String(res.error.message || res.error));

	if (typeof(res.value) == 'number')
		return _('ubus call ha status failed: %s').format(rpc.getStatusText(res.value));

	if (!L.isObject(res.value))
		return _('The ha-pair agent sent no status.');

	if (res.value.error != null)
		return _('The ha-pair agent reported an error: %s').format(res.value.error);

	return null;
}

/* One line on top: healthy, or degraded and why (the agent's own verdict). */
function renderSummary(st) {
	const health = obj(st.health);
	const problems = Array.isArray(health.problems) ? health.problems : [];
	let text, kind;

	if (health.healthy === true) {
		text = _('Healthy: %s, everything ha-pair watches is in order.').format(stateText(st.state));
		kind = 'success';
	}
	else if (obj(st.node).enabled === false) {
		text = _('ha-pair is disabled on this router.');
		kind = 'notice';
	}
	else {
		text = _('Degraded (%s): %s').format(stateText(st.state), problems.length ? problems.join('; ') : '?');
		kind = 'warning';
	}

	return E('div', { 'class': 'alert-message ' + kind, 'id': 'ha-summary' }, [ text ]);
}

function priorityText(node) {
	if (!isNumber(node.effective_priority) || node.effective_priority === node.priority)
		return node.priority;

	return _('%s (effective %s: health checks change it)').format(node.priority, node.effective_priority);
}

function maintenanceText(on, hold) {
	if (on === true)
		return coloured(_('ON: held out of mastership'), 'bad');
	if (on !== false)
		return null;
	return (hold == 'yield') ? _('off (yielding after a handover)') : (hold == 'out') ? _('off (held out)') : _('off');
}

function digestText(digest) {
	return digest ? String(digest).substring(0, 12) : null;
}

function heardText(pv, now) {
	if (pv.reachable === true)
		return fmtSince(pv.last_heard, now);

	return coloured(_('not answering (%s)%s').format(pv.error_kind || pv.error || '?',
		isNumber(pv.last_heard) ? ', ' + _('last heard %s').format(fmtTime(pv.last_heard)) : ''), 'bad');
}

/* This node and the peer side by side; the peer as it reports itself over the sync channel. */
function renderPair(st, now) {
	const node = obj(st.node);
	const agent = obj(st.agent);
	const grp = obj(st.sync_group);
	const cfg = obj(st.config);
	const mnt = obj(st.maintenance);
	const pv = L.isObject(st.peer_view) ? st.peer_view : null;
	const peer = obj(pv);
	const mismatch = Array.isArray(peer.vrrp_mismatch) ? peer.vrrp_mismatch : [];
	const notReady = Array.isArray(peer.not_ready) ? peer.not_ready : [];
	const rows = [
		[ _('State'), stateLabel(st.state), stateLabel(peer.state) ],
		[ _('Since'), fmtSince(st.since, now), null ],
		[ _('Node name'), node.name, peer.node ],
		[ _('Role'), roleText(node.role), null ],
		[ _('Priority'), priorityText(node), isNumber(peer.effective_priority)
			? _('%s (effective)').format(peer.effective_priority) : null ],
		[ _('Maintenance'), maintenanceText(mnt.on, mnt.hold), maintenanceText(peer.maintenance, peer.hold) ],
		[ _('Could take over now'), null, answer(peer.ready, _('yes'), notReady.length
			? _('no: %s').format(notReady.join('; ')) : _('no'), NEUTRAL) ],
		[ _('ha-pair version'), agent.version, peer.version ],
		[ _('Shared configuration'), digestText(cfg.shared_digest), (peer.config_digest != null)
			? E('span', {}, [ digestText(peer.config_digest), ' ', answer(peer.config_match, _('matches'), _('differs')) ])
			: null ],
		pv ? [ _('Last heard'), null, heardText(peer, now) ] : null,
		[ _('Enabled'), answer(node.enabled), null ],
		isNumber(node.vrrp_version) ? [ _('VRRP'), _('version %d, adverts every %s s').format(
			node.vrrp_version, isNumber(node.advert_int_cs) ? node.advert_int_cs / 100 : '?'), null ] : null,
		(grp.name != null) ? [ _('Sync group'), '%s (%s)'.format(grp.name, stateText(grp.state)), null ] : null,
		isNumber(agent.pid) ? [ _('Agent'), _('version %s, pid %d, up %s').format(
			agent.version || '?', agent.pid, '%t'.format(agent.uptime_s || 0)), null ] : null
	].concat(mismatch.map((m) => [ _('VRRP differs'), coloured(m, 'bad'), null ]));

	return section(_('The pair'), E('div', { 'id': 'ha-pair-nodes' }, [
		gridTable([ '', _('This node'), pv ? _('Peer') : _('Peer (none configured)') ],
			rows.filter((row) => row != null), '')
	]));
}

function renderSplitBrain(st, now) {
	const sb = obj(st.split_brain);

	if (sb.active !== true && !isNumber(sb.stepped_down))
		return null;

	return E('div', { 'class': 'alert-message error', 'id': 'ha-split-brain' }, [
		sb.active ? _('SPLIT BRAIN since %s: %s').format(fmtTime(sb.since), sb.cause) : '',
		isNumber(sb.stepped_down) ? ' ' + _('This secondary stepped down %s (ha.global.split_brain).').format(
			fmtSince(sb.stepped_down, now)) : ''
	]);
}

function renderTransition(st, now) {
	const lt = obj(st.last_transition);

	if (!isNumber(lt.time))
		return section(_('Last transition'), E('em', {}, [ _('No transition recorded yet.') ]));

	return section(_('Last transition'), kvTable([
		[ _('Time'), fmtSince(lt.time, now) ],
		[ _('Change'), '%s → %s'.format(stateText(lt.from), stateText(lt.to)) ],
		[ _('Scope'), lt.scope ],
		[ _('Reason'), lt.reason ]
	]));
}

function renderConfig(st) {
	const cfg = obj(st.config);
	const errors = Array.isArray(cfg.errors) ? cfg.errors : [];

	return section(_('Configuration'), kvTable([
		[ _('Valid'), answer(cfg.valid) ],
		errors.length ? [ _('Errors'), list(errors) ] : null,
		cfg.digest ? [ _('Digest'), String(cfg.digest).substring(0, 12) ] : null
	]));
}

function renderInstances(st, now) {
	const instances = obj(st.instances);

	return section(_('Virtual IPs'), gridTable([
		_('Name'), _('State'), _('Interface'), _('Device'), _('VRID'), _('Virtual IPs'),
		_('Addresses present'), _('Link'), _('Since')
	], Object.keys(instances).sort().map((name) => {
		const inst = obj(instances[name]);

		return [
			name,
			stateLabel(inst.state),
			inst.interface,
			inst.device,
			inst.vrid,
			Array.isArray(inst.vips) ? inst.vips.join(', ') : null,
			/* a master must hold its addresses, a backup must not */
			answer(inst.vips_present, null, null, (inst.state == 'backup') ? BAD_GOOD
				: (inst.state == 'master') ? GOOD_BAD : NEUTRAL),
			answer(inst.link, _('up'), _('down')),
			fmtSince(inst.since, now)
		];
	}), _('No virtual IPs configured.')));
}

function renderChecks(st, now) {
	const checks = obj(st.checks);

	return section(_('Health checks'), gridTable([
		_('Name'), _('Type'), _('Target'), _('Result'), _('Down'), _('In a row'), _('On failure'), _('Last run')
	], Object.keys(checks).sort().map((name) => {
		const chk = obj(checks[name]);
		const polled = (chk.type != 'interface');  /* interface checks follow the link: never run */
		let target = null;

		if (chk.type == 'ping')
			target = chk.target;
		else if (chk.type == 'script')
			target = chk.script;
		else if (chk.type == 'interface')
			target = (chk.device != null) ? '%s (%s)'.format(chk.interface, chk.device) : chk.interface;

		return [
			name,
			chk.type,
			target,
			(chk.result == 'ok') ? coloured(_('ok'), 'good')
				: (chk.result == 'fail') ? coloured(_('failing'), 'bad') : coloured(_('unknown'), 'warn'),
			answer(chk.down, _('yes'), _('no'), BAD_GOOD),
			polled ? chk.consecutive : null,
			(chk.failure == 'weight') ? _('priority %s while down').format(signed(chk.weight))
				: (chk.failure == 'fault') ? _('fault') : chk.failure,
			polled ? fmtSince(chk.last_run, now) : null
		];
	}), _('No health checks configured.')));
}

function renderConntrack(st) {
	const ct = obj(st.conntrack);
	const sync = obj(ct.sync);
	const warnings = Array.isArray(ct.warnings) ? ct.warnings : [];

	if (ct.enabled === false)
		return section(_('Connection sync'), E('em', {}, [ _('Disabled (ha.conntrack.enabled is 0): connections break at a takeover.') ]));

	return section(_('Connection sync'), kvTable([
		[ _('conntrackd'), answer(ct.running, _('running'), _('not running')) ],
		[ _('Mode'), (ct.mode != null) ? '%s, %s'.format(ct.mode, ct.transport) : null ],
		[ _('Flows of this node'), ct.internal_active ],
		[ _('Flows of the peer'), ct.external_active ],
		(sync.device != null) ? [ _('Sync device'), sync.device ] : null,
		isNumber(sync.bytes_sent) ? [ _('Sent / received'), '%1024.2mB / %1024.2mB'.format(sync.bytes_sent, sync.bytes_recv || 0) ] : null,
		[ _('Warnings'), warnings.length ? list(warnings) : _('none') ]
	]));
}

function renderDhcp(st) {
	const dhcp = obj(st.dhcp);
	const sections = Array.isArray(dhcp.sections) ? dhcp.sections : [];

	return section(_('DHCP'), kvTable([
		[ _('Managed by ha-pair'), answer(dhcp.managed, _('yes'), _('no'), NEUTRAL) ],
		[ _('Sections'), sections.length ? sections.join(', ') : null ],
		[ _('This node answers DHCP'), answer(dhcp.answering, _('yes'), _('no'), NEUTRAL) ],
		[ _('Consistent with the state'), answer(dhcp.consistent, _('yes'),
			_('no: only the master should answer DHCP')) ]
	]));
}

function renderPeer(st) {
	const peer = obj(st.peer);

	return section(_('Peer'), kvTable([
		[ _('Address'), peer.address ],
		[ _('Sync interface'), (peer.sync_device != null) ? '%s (%s)'.format(peer.sync_interface, peer.sync_device) : peer.sync_interface ],
		[ _('Sync link'), answer(peer.sync_link, _('up'), _('down')) ]
	]));
}

function renderLeaseSync(st, now) {
	const ls = obj(st.lease_sync);

	if (ls.enabled === false)
		return section(_('Lease sync'), E('em', {}, [ _('Disabled (ha.dhcp.lease_sync is 0).') ]));

	return section(_('Lease sync'), kvTable([
		[ _('Peer reachable'), answer(ls.peer_reachable) ],
		[ _('Last push'), fmtSince(ls.last_push, now) ],
		[ _('Last pull'), fmtSince(ls.last_pull, now) ],
		isNumber(ls.lag_s) ? [ _('Lag'), _('%.1f s').format(ls.lag_s) ] : null,
		[ _('Leases here / on the peer'), isNumber(ls.leases_local) ? '%d / %s'.format(ls.leases_local, cell(ls.leases_peer)) : null ],
		[ _('Conflicts'), isNumber(ls.conflicts) ? coloured(String(ls.conflicts), ls.conflicts ? 'warn' : 'good') : null ],
		[ _('Tombstones'), ls.tombstones ],
		isNumber(ls.clock_offset_s) ? [ _('Clock offset to the peer'), ls.clock_warning
			? coloured(_('%.1f s: lease expiry times are wrong on one router, set up NTP').format(ls.clock_offset_s), 'bad')
			: _('%.1f s').format(ls.clock_offset_s) ] : null,
		[ _('dnsmasq restarts for imports'), ls.dnsmasq_restarts ],
		ls.malformed_lines ? [ _('Malformed lease lines skipped'), coloured(String(ls.malformed_lines), 'warn') ] : null,
		(ls.last_error != null) ? [ _('Last error'), coloured(ls.last_error_kind
			? '%s: %s'.format(ls.last_error_kind, ls.last_error) : String(ls.last_error), 'bad') ] : null
	]));
}

function renderHistory(history, now) {
	if (!Array.isArray(history))
		return section(_('History'), E('em', {}, [ _('The history could not be read.') ]));

	return section(_('History'), gridTable([ _('Time'), _('Scope'), _('From'), _('To'), _('Reason') ],
		history.slice().reverse().map((item) => {
			const entry = obj(item);
			return [ fmtSince(entry.time, now), entry.scope, stateLabel(entry.from), stateLabel(entry.to), entry.reason ];
		}), _('No transition recorded yet.')));
}

/* What a handover or maintenance call answered: { ok, ... } or { ok: false, error }. */
function showAnswer(title, res, done) {
	const value = obj(res.value);
	const failed = res.error || value.ok !== true;
	const text = res.error ? String(res.error.message || res.error)
		: failed ? (value.error || _('no answer')) : (done || _('Done.'));

	ui.showModal(title, [
		E('p', { 'class': failed ? 'alert-message warning' : 'alert-message success', 'id': 'ha-operate-answer' }, [ text ]),
		E('div', { 'class': 'right' }, [
			E('button', { 'class': 'cbi-button', 'click': ui.hideModal }, [ _('Close') ])
		])
	]);
}

/* Ask first: both move the VIPs (maintenance on hands over when this node is master). */
function confirmThen(title, text, extra, action) {
	ui.showModal(title, [
		E('p', {}, [ text ]),
		extra || E('span'),
		E('div', { 'class': 'right' }, [
			E('button', { 'class': 'cbi-button', 'click': ui.hideModal }, [ _('Cancel') ]),
			' ',
			E('button', { 'class': 'cbi-button cbi-button-negative', 'id': 'ha-confirm', 'click': () => {
				ui.showModal(title, [ E('p', { 'class': 'spinning' }, [ _('Waiting for the agent…') ]) ]);
				return settle(action()).then((res) => showAnswer(title, res));
			} }, [ _('Proceed') ])
		])
	]);
}

/* Config sync: the difference first (a dry run), then a confirmation to send it. */
function configSync() {
	const title = _('Send the configuration to the peer');

	ui.showModal(title, [ E('p', { 'class': 'spinning' }, [ _('Asking the peer for its configuration…') ]) ]);

	return settle(callConfigSync(true)).then((res) => {
		const value = obj(res.value);

		if (res.error || value.ok !== true)
			return showAnswer(title, res);

		if (!value.diff)
			return showAnswer(title, { value: { ok: true } }, _('The peer has the same shared configuration: nothing to send.'));

		confirmThen(title, _('The peer keeps its role, priority, peer address, node name and unicast addresses; the rest of its /etc/config/ha becomes this node\'s (it checks it first and refuses what would not work there):'),
			E('pre', { 'id': 'ha-config-diff', 'style': 'max-height:20em;overflow:auto' }, [ value.diff ]),
			() => callConfigSync(false));
	});
}

function renderOperate(st, mayOperate) {
	const mnt = obj(st.maintenance);
	const inMaintenance = (mnt.on === true);
	const disabled = !mayOperate || null;
	const handover = E('button', {
		'class': 'cbi-button cbi-button-action', 'id': 'ha-handover', 'disabled': (disabled || st.state != 'master') || null,
		'click': () => confirmThen(_('Hand over to the peer'),
			_('Hand the virtual IPs to the peer now? This node stays a backup that does not take them back until the peer fails or hands them back.'),
			null, () => callHandover())
	}, [ _('Hand over to the peer') ]);
	const force = E('input', { 'type': 'checkbox', 'id': 'ha-force' });
	const maintenance = E('button', {
		'class': 'cbi-button cbi-button-action', 'id': 'ha-maintenance', 'disabled': disabled,
		'click': () => inMaintenance
			? confirmThen(_('Leave maintenance mode'),
				_('Let this node take part in VRRP again? With a higher priority and preempt it takes the virtual IPs back.'),
				null, () => callMaintenance('off', false))
			: confirmThen(_('Enter maintenance mode'),
				_('Keep this node out of mastership, across reboots, until maintenance is turned off? As master it hands the virtual IPs over first.'),
				E('p', {}, [ E('label', {}, [ force, ' ', _('even if the peer cannot take over or is in maintenance too (force)') ]) ]),
				() => callMaintenance('on', force.checked))
	}, [ inMaintenance ? _('Leave maintenance mode') : _('Enter maintenance mode') ]);
	const sync = E('button', {
		'class': 'cbi-button cbi-button-action', 'id': 'ha-config-sync', 'disabled': disabled,
		'click': configSync
	}, [ _('Send the configuration to the peer') ]);

	return section(_('Operate'), E('div', {}, [
		E('p', {}, [ handover, ' ', maintenance, ' ', sync ]),
		mayOperate ? E('span') : E('p', { 'id': 'ha-operate-denied' }, [
			E('em', {}, [ _('This login may only watch: handover, maintenance and config sync need the ACL group %s.').format(OPERATE_ACL) ])
		])
	]));
}

return view.extend({
	load() {
		return Promise.all([
			settle(callStatus()),
			settle(callHistory()),
			L.resolveDefault(uci.load('ha'), null),
			L.resolveDefault(callAccess('access-group', OPERATE_ACL, 'write'), false)
		]);
	},

	renderContent(data) {
		const res = data[0];
		const hist = data[1];
		const failure = failureText(res, uciTrue(uci.get('ha', 'global', 'enabled')));

		if (failure)
			return E('div', { 'class': 'alert-message warning' }, [ failure ]);

		const st = res.value;
		const now = isNumber(st.time) ? st.time : Date.now() / 1000;
		const history = (hist.value && Array.isArray(hist.value.history)) ? hist.value.history : null;
		const nodes = [ renderSummary(st) ];

		if (obj(st.config).valid === false)
			nodes.push(E('div', { 'class': 'alert-message warning' }, [
				_('/etc/config/ha is invalid: fix the errors listed under Configuration (ha-pair check on the router shows them too).')
			]));

		const split = renderSplitBrain(st, now);

		if (split)
			nodes.push(split);

		nodes.push(renderPair(st, now), renderOperate(st, this.mayOperate), renderTransition(st, now), renderConfig(st));

		if (L.isObject(st.instances))
			nodes.push(renderInstances(st, now), renderChecks(st, now), renderConntrack(st),
				renderDhcp(st), renderPeer(st));

		if (L.isObject(st.lease_sync))
			nodes.push(renderLeaseSync(st, now));

		nodes.push(renderHistory(history, now));

		return E('div', {}, nodes);
	},

	render(data) {
		this.mayOperate = (data[3] === true);

		const container = E('div', {}, [ this.renderContent(data) ]);

		poll.add(() => Promise.all([ settle(callStatus()), settle(callHistory()), null ])
			.then((fresh) => dom.content(container, this.renderContent(fresh))), 5);

		return E('div', { 'class': 'cbi-map' }, [
			E('h2', {}, [ _('High Availability') ]),
			E('div', { 'class': 'cbi-map-descr' }, [
				_('State of this router in its active/backup pair, as the ha-pair agent reports it (refreshed every 5 seconds).')
			]),
			container
		]);
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
