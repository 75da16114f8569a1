// Runtime configuration, replaced at deploy time so one built bundle serves every
// environment. apiOrigin: where dashboard-api answers ("" = this page's origin, as when
// dashboard-api serves the bundle); refreshMs: how often the MySQL reports are reloaded.
window.NOTAS_CONFIG = { apiOrigin: "", refreshMs: 3000 };
