export * from './containers';
export * from './event-collector';
export * from './eventually';
export * from './images';
export * from './kafka';
export * from './postgres';
export * from './service-process';
export * from './service-scenarios';
