/**
 * The script a worker thread runs in module form: it serves the module its supervisor
 * names (the primary never imports the app).
 *
 * @module
 */
import { serveAssignedModule } from "./serve.ts";

serveAssignedModule();
