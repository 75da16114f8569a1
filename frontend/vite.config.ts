import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a local dashboard-api (just dev), so the page and the
// API share an origin as they do in production.
const api = process.env.DASHBOARD_API ?? "http://127.0.0.1:8083";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": api,
      "/socket.io": { target: api, ws: true },
    },
  },
  // recharts is most of the bundle; one chunk is fine for a single-page dashboard.
  build: { chunkSizeWarningLimit: 800 },
  test: { include: ["src/**/*.test.ts"] },
});
