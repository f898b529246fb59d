import esbuild from 'esbuild';
const { oneYjs } = await import('./plugin/build/esbuild-plugins.mjs');
const r = await esbuild.build({ entryPoints: [process.argv[2]], bundle: true, external: ['obsidian','electron','@codemirror/*','@lezer/*','level','pg','bufferutil','utf-8-validate'], format:'cjs', platform: 'node', target:'es2021', minify:true, metafile:true, write:false, plugins: [oneYjs], logLevel:'error' });
const out = Object.values(r.metafile.outputs)[0];
console.log('total', out.bytes);
const by = {};
for (const [k,v] of Object.entries(out.inputs)) { const key = k.includes('node_modules') ? k.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/,'$1') : k.split('/').slice(0,2).join('/'); by[key]=(by[key]||0)+v.bytesInOutput; }
for (const [k,v] of Object.entries(by).sort((a,b)=>b[1]-a[1]).slice(0,50)) console.log(String(v).padStart(8), k);
