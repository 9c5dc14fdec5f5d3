'use strict';
'require baseclass';
'require rpc';

/*
 * Status → Overview: this router's place in its ha-pair.
 * load() never rejects: the overview hides an include for good once its
 * load() has failed, and a stopped agent is worth showing.
 */
const callStatus = rpc.declare({
	object: 'ha',
	method: 'status'
});

const UBUS_STATUS_NOT_FOUND = 4;

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
			return E('p', {}, [
				(res && res.value === UBUS_STATUS_NOT_FOUND)
					? _('The ha-pair agent is not running.') : _('The ha-pair status is not available.'),
				' ', link
			]);

		const st = res.value;
		const now = isNumber(st.time) ? st.time : Date.now() / 1000;
		const node = obj(st.node);
		const lt = obj(st.last_transition);
		const fields = [
			_('State'), E('strong', {}, [ stateText(st.state) ]),
			_('Since'), ago(st.since, now),
			_('Node'), (node.name != null) ? _('%s (%s, priority %s)').format(node.name, roleText(node.role), node.priority) : null,
			_('Last transition'), isNumber(lt.time)
				? '%s → %s, %s: %s'.format(stateText(lt.from), stateText(lt.to), ago(lt.time, now), lt.reason || '?')
				: _('none yet'),
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
