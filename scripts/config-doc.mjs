#!/usr/bin/env node
// Prints docs/configuration.md from the driver's option table (dist must be built).
// `node scripts/config-doc.mjs > docs/configuration.md`; a unit test keeps the file in step.
import { renderConfigurationDoc } from '../dist/src/driver/config-doc.js';
process.stdout.write(renderConfigurationDoc());
