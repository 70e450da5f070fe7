export * from './catalogue';
export * from './define';
export * from './enums';
export * from './envelope';
export * from './event-id';
