'use strict';
'require baseclass';
'require rpc';

/*
 * Status → Overview: this router's place in its ha-pair.
 * load() never rejects: the overview hides an include for good once its
 * load() has failed, and a stopped or hung agent is worth showing. Through
 * uhttpd's /ubus a stopped agent is the JSON-RPC error -32000, a hung one
 * -32003 (or LuCI's request timeout); through admin/ubus the ubus status 4/7.
 */
const callStatus = rpc.declare({
	object: 'ha',
	method: 'status'
});

const UBUS_STATUS_NOT_FOUND = 4;
const UBUS_STATUS_TIMEOUT = 7;

const STATES = {
	master: _('Master'),
	backup: _('Backup'),
	fault: _('Fault'),
	stopped: _('Stopped'),
	unknown: _('Unknown')
};

function obj(value) {
	return L.isObject(value) ? value : {};
}

function isNumber(value) {
	return typeof(value) == 'number' && isFinite(value);
}

function stateText(state) {
	return STATES[state] || (state != null ? String(state) : '?');
}

function roleText(role) {
	return (role == 'primary') ? _('Primary') : (role == 'secondary') ? _('Secondary') : role;
}

function failure(res) {
	const match = res && res.error ? /failed with error (-?\d+)/.exec(String(res.error.message)) : null;
	const code = match ? +match[1] : null;

	if (code === -32000 || (res && res.value === UBUS_STATUS_NOT_FOUND))
		return _('The ha-pair agent is not running.');
	if (code === -32003 || (res && res.value === UBUS_STATUS_TIMEOUT) ||
	    (res && res.error && /timed out/.test(String(res.error.message))))
		return _('The ha-pair agent did not answer in time.');
	return _('The ha-pair status is not available.');
}

function ago(t, now) {
	return isNumber(t) ? _('%s ago').format('%t'.format(Math.max(0, Math.round(now - t)))) : null;
}

return baseclass.extend({
	title: _('High Availability'),

	load() {
		return callStatus().then((value) => ({ value: value }), (error) => ({ error: error }));
	},

	render(res) {
		const link = E('a', { 'href': L.url('admin/services/ha/status') }, [ _('Details') ]);

		if (!res || res.error || !L.isObject(res.value) || res.value.error != null)
			return E('p', {}, [ failure(res), ' ', link ]);

		const st = res.value;
		const now = isNumber(st.time) ? st.time : Date.now() / 1000;
		const node = obj(st.node);
		const lt = obj(st.last_transition);
		const health = obj(st.health);
		const pv = obj(st.peer_view);
		const fields = [
			_('State'), E('strong', {}, [ stateText(st.state) ]),
			_('Health'), (health.summary != null)
				? E('span', { 'style': health.healthy ? 'color:#2e7d32' : 'color:#ef6c00' }, [ health.summary ]) : null,
			_('Since'), ago(st.since, now),
			_('Node'), (node.name != null) ? _('%s (%s, priority %s)').format(node.name, roleText(node.role), node.priority) : null,
			_('Last transition'), isNumber(lt.time)
				? '%s → %s, %s: %s'.format(stateText(lt.from), stateText(lt.to), ago(lt.time, now), lt.reason || '?')
				: _('none yet'),
			_('Peer'), L.isObject(st.peer_view) ? ((pv.reachable === true)
				? _('%s: %s, priority %s, heard %s').format(pv.node || '?', stateText(pv.state),
					(pv.effective_priority != null) ? pv.effective_priority : '?', ago(pv.last_heard, now))
				: E('span', { 'style': 'color:#c62828' }, [ _('not answering (%s)').format(pv.error_kind || '?') ])) : null,
			_('Configuration'), { 'true': _('valid'), 'false': _('invalid') }[String(obj(st.config).valid)]
		];

		const table = E('table', { 'class': 'table' });

		for (let i = 0; i < fields.length; i += 2)
			table.appendChild(E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td left', 'width': '33%' }, [ fields[i] ]),
				E('td', { 'class': 'td left' }, [ (fields[i + 1] != null) ? fields[i + 1] : '-' ])
			]));

		return E('div', {}, [ table, E('p', {}, [ link ]) ]);
	}
});
