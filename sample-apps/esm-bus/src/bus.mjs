// The process-wide configuration bus: every part of the app listens for reloads here.
import { EventEmitter } from 'node:events';
export const configBus = new EventEmitter();
configBus.setMaxListeners(0);
