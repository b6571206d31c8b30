import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * Built by `npm run build:web` (`vite build web`) into web/dist, which Herald serves at `/`
 * (src/web/web-routes.ts). `npm run dev:web` serves the app with hot reload on :5173 and
 * passes the API through to a Herald on :8080 (`npm run dev` in another terminal).
 */
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // WeChat's browser on older Android phones is Chromium 86-based (X5/XWeb).
    target: ['es2020', 'chrome86', 'safari14'],
    chunkSizeWarningLimit: 400,
  },
  server: {
    port: 5173,
    proxy: { '/v1': { target: 'http://127.0.0.1:8080', changeOrigin: false } },
  },
});
