export * from './dev-sms';
export * from './dev-sms-inbox';
