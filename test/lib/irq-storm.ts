// Child process of the robustness test: storms the display change IRQ and
// plane queries of a device fd it inherited.
//   node irq-storm.js FD ROUNDS
import { EventFd, VfioDevice } from 'vfio-display';

const [fdArg, roundsArg] = process.argv.slice(2);
const device = VfioDevice.fromFd(Number(fdArg), 'inherited mbochs');
const efd = new EventFd();
const INDEX = 5;
for (let i = 0; i < Number(roundsArg); i++) {
  switch (i % 5) {
    case 0:
      device.setIrqs({ index: INDEX, action: 'trigger', data: [-1, efd, efd] });
      break;
    case 1:
      device.setIrqs({ index: INDEX, action: 'unmask', data: 'none', count: 3 });
      break;
    case 2:
      device.setIrqs({ index: INDEX, action: 'trigger', data: [true, true, true] });
      break;
    default: {
      const q = new Uint8Array(88);
      new DataView(q.buffer).setUint32(0, 88, true);
      new DataView(q.buffer).setUint32(4, (1 << 1) | (1 << 3), true);
      new DataView(q.buffer).setUint32(8, 1, true);
      device.ioctl(0x3b72, q, 'VFIO_DEVICE_QUERY_GFX_PLANE', 'storm query');
    }
  }
  efd.read();
}
efd.close();
device.close();
