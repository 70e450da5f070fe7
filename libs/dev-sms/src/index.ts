export * from './dev-sms';
