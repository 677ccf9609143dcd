export * from './discovery';
export * from './client';
