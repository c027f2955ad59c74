import { defineConfig } from "vite";

// The UI is served by Tauri from ui/dist; `clearScreen: false` keeps Rust
// errors visible when `vite` runs beside `cargo tauri dev`.
export default defineConfig({
  root: ".",
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.40+ (Debian 12) supports ES2021.
    target: "es2021",
    sourcemap: false,
    // Loaded from disk, not the network; one bundle is fine.
    chunkSizeWarningLimit: 1500,
  },
});
