export { startDashboard, PAGES, type Dashboard, type DashboardOptions } from "./server.js";
export { escapeHtml, html, Html } from "./html.js";
export { Auth, SESSION_COOKIE } from "./auth.js";
