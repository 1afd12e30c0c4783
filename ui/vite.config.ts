import { defineConfig } from "vite";

export default defineConfig({
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  envPrefix: ["VITE_", "TAURI_ENV_*"],
  // WKWebView on the old server (macOS 10.13+, Safari 13 engine) and WebKitGTK on Linux.
  build: { target: "safari13", outDir: "dist", emptyOutDir: true },
});
