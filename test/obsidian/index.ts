/**
 * A faithful test double of the Obsidian API subset OWP Pool uses, over a real temp
 * folder and happy-dom. Route `obsidian` here in tests:
 *   vi.mock('obsidian', () => import('./obsidian/index.js'))
 * or (vitest.config.ts) `resolve: { alias: { obsidian: <abs>/test/obsidian/index.ts } }`.
 */
export { doc, happyWindow, createElement } from './dom.js';
export { Events, FileSystemAdapter, TAbstractFile, TFile, TFolder, Vault, MetadataCache, FileManager, normalizePath } from './vault.js';
export type { EventRef, CachedMetadata } from './vault.js';
export { Component, View, ItemView, MarkdownView, Editor, WorkspaceLeaf, Workspace } from './workspace.js';
export {
  App,
  createTestApp,
  Notice,
  noticeLog,
  routeNoticesTo,
  Plugin,
  Modal,
  Setting,
  TextComponent,
  ButtonComponent,
  ToggleComponent,
  PluginSettingTab,
  requestUrl,
  appFeatures,
  secretStore,
  Platform,
  localStore,
  SecretStorage,
} from './app.js';
export type { Command, PluginManifest, RequestUrlParam, RequestUrlResponse } from './app.js';
