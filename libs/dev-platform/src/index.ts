export * from './platform-description';
