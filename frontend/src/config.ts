// The runtime configuration that public/config.js puts on `window`.

export interface RuntimeConfig {
  /** Origin of dashboard-api, without a trailing slash; "" means this page's origin. */
  apiOrigin: string;
  /** How often the MySQL reports are reloaded, in milliseconds. */
  refreshMs: number;
}

const DEFAULTS: RuntimeConfig = { apiOrigin: "", refreshMs: 3000 };

/** Reads whatever config.js set, falling back to the defaults for anything missing or odd. */
export function runtimeConfig(raw: unknown): RuntimeConfig {
  const given = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const apiOrigin = typeof given.apiOrigin === "string" ? given.apiOrigin.replace(/\/+$/, "") : DEFAULTS.apiOrigin;
  const refreshMs =
    typeof given.refreshMs === "number" && given.refreshMs >= 500 ? given.refreshMs : DEFAULTS.refreshMs;
  return { apiOrigin, refreshMs };
}

declare global {
  interface Window {
    NOTAS_CONFIG?: unknown;
  }
}

export const config = runtimeConfig(typeof window === "undefined" ? undefined : window.NOTAS_CONFIG);
