// Upload a file to Quire with the real tus-js-client: stop after ~2 MiB, then resume from the upload
// URL in a new Upload (it HEADs and continues). Prints {resumedFrom, fileId} as JSON.
// Usage: node tus-resume.js <endpoint> <token> <file>
const tus = require("tus-js-client");
const fs = require("fs");

const [endpoint, token, path] = process.argv.slice(2);
const data = fs.readFileSync(path);
const common = {
  chunkSize: 1024 * 1024,
  headers: { Authorization: `Bearer ${token}` },
  metadata: { filename: "tus-client.bin", filetype: "application/octet-stream" },
  retryDelays: [0, 200, 1000],
};

function firstPart() {
  return new Promise((resolve, reject) => {
    const up = new tus.Upload(data, {
      ...common,
      endpoint,
      onError: reject,
      onSuccess: () => reject(new Error("the first part should have been stopped")),
      onChunkComplete: (_size, accepted) => {
        if (accepted >= 2 * 1024 * 1024) {
          up.abort().then(() => resolve(up.url), reject);
        }
      },
    });
    up.start();
  });
}

function resume(uploadUrl) {
  return new Promise((resolve, reject) => {
    let resumedFrom = null;
    let fileId = null;
    const up = new tus.Upload(data, {
      ...common,
      uploadUrl,
      onAfterResponse: (req, res) => {
        if (req.getMethod() === "HEAD") resumedFrom = Number(res.getHeader("Upload-Offset"));
        const id = res.getHeader("X-File-Id");
        if (id) fileId = id;
      },
      onError: reject,
      onSuccess: () => resolve({ resumedFrom, fileId }),
    });
    up.start();
  });
}

firstPart()
  .then(resume)
  .then((r) => console.log(JSON.stringify(r)))
  .catch((e) => {
    console.error(String(e));
    process.exit(1);
  });
