export * from './compact';
